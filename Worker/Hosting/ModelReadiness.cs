namespace Worker.Hosting;

public enum ReadinessState
{
    Loading,
    Ready,
    Failed,
}

/// <summary>What <c>/ping</c> reports: set by whoever loads the model, read lock-free by every ping.</summary>
public sealed class ModelReadiness
{
    private volatile Snapshot _current = new(ReadinessState.Loading, "model is loading");

    public ReadinessState State => _current.State;
    public string Reason => _current.Reason;

    public void SetLoading(string reason) => _current = new(ReadinessState.Loading, reason);
    public void SetReady(string description) => _current = new(ReadinessState.Ready, description);
    public void SetFailed(string reason) => _current = new(ReadinessState.Failed, reason);

    private sealed record Snapshot(ReadinessState State, string Reason);
}
