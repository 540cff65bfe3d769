namespace Worker.Hosting;

public enum ReadinessState
{
    Loading,
    Ready,
    Failed,
}

/// <summary>One state and its reason, always read together.</summary>
public sealed record ReadinessSnapshot(ReadinessState State, string Reason);

/// <summary>
/// What <c>/ping</c> reports: set by whoever loads the model, read lock-free by every ping. A reader
/// that needs the state and the reason takes <see cref="Current"/> once: reading <see cref="State"/>
/// twice could see the model go from loading to ready in between (a ping once answered "failed" with
/// the reason "cpu" that way, and the transform client gave up on a model that had just loaded).
/// </summary>
public sealed class ModelReadiness
{
    private volatile ReadinessSnapshot _current = new(ReadinessState.Loading, "model is loading");

    public ReadinessSnapshot Current => _current;
    public ReadinessState State => _current.State;
    public string Reason => _current.Reason;

    public void SetLoading(string reason) => _current = new(ReadinessState.Loading, reason);
    public void SetReady(string description) => _current = new(ReadinessState.Ready, description);
    public void SetFailed(string reason) => _current = new(ReadinessState.Failed, reason);
}
