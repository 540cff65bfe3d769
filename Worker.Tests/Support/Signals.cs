using System.Runtime.InteropServices;

namespace Worker.Tests.Support;

/// <summary>POSIX signals for tests that stop a real worker process the way docker stop does.</summary>
public static class Signals
{
    public const int Terminate = 15;

    /// <returns>0 when the signal was sent.</returns>
    public static int Send(int pid, int signal) => Kill(pid, signal);

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
