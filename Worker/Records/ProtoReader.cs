using System.Buffers.Binary;

namespace Worker.Records;

/// <summary>Malformed protobuf bytes; callers turn it into a 400 naming the record.</summary>
public sealed class ProtoException(string message) : Exception(message);

/// <summary>
/// The protobuf wire format, read in place: tags, varints, fixed32/64 and length-delimited spans.
/// No message objects are built, so decoding a record allocates nothing.
/// </summary>
public ref struct ProtoReader(ReadOnlySpan<byte> data)
{
    public const int Varint = 0;
    public const int Fixed64 = 1;
    public const int LengthDelimited = 2;
    public const int Fixed32 = 5;

    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    public readonly bool End => _position >= _data.Length;

    public bool TryReadTag(out int field, out int wireType)
    {
        if (End)
        {
            field = wireType = 0;
            return false;
        }

        var tag = ReadVarint();
        field = (int)(tag >> 3);
        wireType = (int)(tag & 7);
        if (field == 0)
        {
            throw new ProtoException("protobuf field number 0");
        }

        return true;
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length)
            {
                throw new ProtoException("protobuf varint runs past the end");
            }

            var b = _data[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        throw new ProtoException("protobuf varint is longer than 10 bytes");
    }

    public ReadOnlySpan<byte> ReadLengthDelimited()
    {
        var length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
        {
            throw new ProtoException("protobuf length runs past the end");
        }

        var span = _data.Slice(_position, (int)length);
        _position += (int)length;
        return span;
    }

    public uint ReadFixed32()
    {
        if (_data.Length - _position < 4)
        {
            throw new ProtoException("protobuf fixed32 runs past the end");
        }

        var value = BinaryPrimitives.ReadUInt32LittleEndian(_data[_position..]);
        _position += 4;
        return value;
    }

    public ulong ReadFixed64()
    {
        if (_data.Length - _position < 8)
        {
            throw new ProtoException("protobuf fixed64 runs past the end");
        }

        var value = BinaryPrimitives.ReadUInt64LittleEndian(_data[_position..]);
        _position += 8;
        return value;
    }

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint: ReadVarint(); break;
            case Fixed64: ReadFixed64(); break;
            case LengthDelimited: ReadLengthDelimited(); break;
            case Fixed32: ReadFixed32(); break;
            default: throw new ProtoException($"protobuf wire type {wireType} is not supported");
        }
    }
}
