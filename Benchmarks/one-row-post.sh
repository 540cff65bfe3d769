# Sourced by one-row-clients.sh and http-floor.sh: writes the wrk script both send, so the worker
# and the HTTP floor get the same request. One row of 64 float32 as numpy writes them, the same row
# in every request.
#   write_one_row_post FILE.lua
write_one_row_post() {
  local row
  row=$(/usr/bin/python3 -c 'import random; random.seed(5); print(",".join(repr(round(random.uniform(-1, 1), 7)) for _ in range(64)))')
  cat >"$1" <<LUA
wrk.method = "POST"
wrk.body = "$row\n"
wrk.headers["Content-Type"] = "text/csv"
wrk.headers["Accept"] = "text/csv"
LUA
}
