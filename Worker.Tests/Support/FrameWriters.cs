using System.Buffers.Binary;
using Worker.Records;

namespace Worker.Tests.Support;

/// <summary>Writers the tests own, written from the framing specs, to produce payloads the readers must split.</summary>
public static class FrameWriters
{
    public static byte[] TfRecord(params byte[][] records)
    {
        var output = new List<byte>();
        foreach (var data in records)
        {
            var header = new byte[12];
            BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), Crc32C.Mask(Crc32C.Compute(header.AsSpan(0, 8))));
            output.AddRange(header);
            output.AddRange(data);
            var footer = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(footer, Crc32C.Mask(Crc32C.Compute(data)));
            output.AddRange(footer);
        }

        return [.. output];
    }

    /// <summary>
    /// dmlc RecordIO, as dmlc's writer does it: where the magic appears at a 4-byte aligned offset in
    /// the data, the record is cut there (the magic itself dropped) and continued in a new part.
    /// </summary>
    public static byte[] RecordIO(params byte[][] records)
    {
        var output = new List<byte>();
        foreach (var data in records)
        {
            var cuts = new List<int>();
            for (var i = 0; i + 4 <= data.Length; i += 4)
            {
                if (BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(i)) == RecordIOReader.Magic)
                {
                    cuts.Add(i);
                }
            }

            if (cuts.Count == 0)
            {
                WritePart(output, 0, data);
                continue;
            }

            var start = 0;
            for (var c = 0; c <= cuts.Count; c++)
            {
                var end = c < cuts.Count ? cuts[c] : data.Length;
                var flag = c == 0 ? 1u : c == cuts.Count ? 3u : 2u;
                WritePart(output, flag, data.AsSpan(start, end - start));
                start = end + 4;
            }
        }

        return [.. output];
    }

    private static void WritePart(List<byte> output, uint flag, ReadOnlySpan<byte> data)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(header, RecordIOReader.Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), (flag << 29) | (uint)data.Length);
        output.AddRange(header);
        output.AddRange(data.ToArray());
        for (var pad = data.Length; pad % 4 != 0; pad++)
        {
            output.Add(0);
        }
    }

    public static byte[] MagicBytes()
    {
        var magic = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(magic, RecordIOReader.Magic);
        return magic;
    }
}
