using System.Runtime.InteropServices;
using Worker.Hosting;
using Worker.Inference;
using Worker.Inference.Ort;
using Worker.Records;
using Worker.Tests.Support;

namespace Worker.Tests.Inference;

/// <summary>The batching engine itself, on the real linear model.</summary>
public class InferenceEngineTests
{
    [Fact]
    public async Task AFullQueueMakesProducersWaitAndDropsNothing()
    {
        // A queue of one slice, one worker, 4-row batches: 100 requests of 10 rows (300 slices) fired at
        // once keep the queue full. A queue that dropped or refused a slice would leave its request
        // waiting forever, and the timeout below would fail the test.
        var session = OnnxSession.Create(Models.File("linear"), new SessionConfig { Device = DevicePreference.Cpu, IntraOpThreads = 1 });
        using var engine = new InferenceEngine(session, new InferenceOptions { QueueCapacity = 1, Workers = 1, MaxBatchRows = 4, MaxQueueDelay = TimeSpan.Zero }, JsonLog.Null);

        var requests = Enumerable.Range(0, 100).Select(request => Task.Run(async () =>
        {
            using var rows = new RowSet(engine.Signature, 10);
            for (var r = 0; r < 10; r++)
            {
                float[] x = [request, r, -1, 0.5f];
                x.CopyTo(MemoryMarshal.Cast<byte, float>(rows.InputRow(0, rows.AddRow())));
            }

            await engine.RunAsync(rows, CancellationToken.None);
            for (var r = 0; r < 10; r++)
            {
                Assert.Equal(Models.Linear([request, r, -1, 0.5f]), rows.OutputRow<float>(0, r).ToArray(), new ToleranceComparer(1e-5f));
            }
        }));

        await Task.WhenAll(requests).WaitAsync(TimeSpan.FromSeconds(60));
    }
}
