namespace Worker.Http;

/// <summary>Which method each route takes; decided from the head alone, so a wrong request is refused before its body is read.</summary>
public static class RouteTable
{
    /// <summary>0 when the request may proceed, else 404 or 405 (with <paramref name="allow"/> set for 405).</summary>
    public static int Check(HttpRequestHead head, out string? allow)
    {
        allow = null;
        switch (head.Route)
        {
            case Route.Ping:
            case Route.ExecutionParameters:
                if (head.Method is HttpMethod.Get or HttpMethod.Head)
                {
                    return 0;
                }

                allow = "GET, HEAD";
                return 405;
            case Route.Invocations:
            case Route.ModelInvoke:
                if (head.Method == HttpMethod.Post)
                {
                    return 0;
                }

                allow = "POST";
                return 405;
            case Route.Models:
                if (head.Method is HttpMethod.Get or HttpMethod.Head or HttpMethod.Post)
                {
                    return 0;
                }

                allow = "GET, HEAD, POST";
                return 405;
            case Route.Model:
                if (head.Method is HttpMethod.Get or HttpMethod.Head or HttpMethod.Delete)
                {
                    return 0;
                }

                allow = "GET, HEAD, DELETE";
                return 405;
            default:
                return 404;
        }
    }

    public static void SetRouteError(HttpResponse response, HttpRequestHead head, int status, string? allow)
    {
        if (status == 405)
        {
            response.SetError(405, $"{head.MethodName} is not allowed on {head.PathName}");
            response.Allow = allow;
        }
        else
        {
            response.SetError(404, $"no route {head.PathName}; the worker answers /ping, /execution-parameters, /invocations and, as a multi-model endpoint, /models");
        }
    }
}
