using Worker.Records;

namespace Worker.Tests.Records;

public class MediaTypesTests
{
    [Theory]
    [InlineData("text/csv", RecordFormat.Csv)]
    [InlineData("text/csv; charset=utf-8", RecordFormat.Csv)]
    [InlineData("TEXT/CSV;Charset=\"UTF-8\"", RecordFormat.Csv)]
    [InlineData("text/csv; label_size=0", RecordFormat.Csv)]
    [InlineData("application/jsonlines", RecordFormat.JsonLines)]
    [InlineData("application/x-jsonlines", RecordFormat.JsonLines)]
    [InlineData("application/jsonl", RecordFormat.JsonLines)]
    [InlineData("application/json", RecordFormat.Json)]
    [InlineData("application/x-tfrecord", RecordFormat.TfRecord)]
    [InlineData("application/x-recordio", RecordFormat.RecordIO)]
    [InlineData("application/x-recordio-protobuf", RecordFormat.RecordIOProtobuf)]
    public void RecognisesContentTypes(string contentType, RecordFormat expected)
    {
        Assert.True(MediaTypes.TryGetRecordFormat(contentType, out var format, out _, out _));
        Assert.Equal(expected, format);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("text/plain")]
    [InlineData("text/csv; charset=latin-1")]
    [InlineData("image/gif")]
    public void RefusesOtherContentTypes(string? contentType)
    {
        Assert.False(MediaTypes.TryGetRecordFormat(contentType, out _, out _, out var error));
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Fact]
    public void HeaderPresentIsRead()
    {
        Assert.True(MediaTypes.TryGetRecordFormat("text/csv; header=present", out _, out var csv, out _));
        Assert.True(csv.HasHeader);
    }

    [Theory]
    [InlineData(null, RecordFormat.Csv, AnswerFormat.Csv)]
    [InlineData("*/*", RecordFormat.Json, AnswerFormat.Json)]
    [InlineData(null, RecordFormat.TfRecord, AnswerFormat.JsonLines)]
    [InlineData("*/*", RecordFormat.RecordIOProtobuf, AnswerFormat.JsonLines)]
    [InlineData("application/json", RecordFormat.Csv, AnswerFormat.Json)]
    [InlineData("text/csv;q=0.5, application/jsonlines", RecordFormat.Csv, AnswerFormat.JsonLines)]
    [InlineData("image/png, text/csv", RecordFormat.Json, AnswerFormat.Csv)]
    [InlineData("application/x-jsonlines", RecordFormat.Csv, AnswerFormat.JsonLines)]
    public void NegotiatesTheAnswer(string? accept, RecordFormat input, AnswerFormat expected)
    {
        Assert.True(MediaTypes.TryGetAnswerFormat(accept, input, out var format, out _));
        Assert.Equal(expected, format);
    }

    [Theory]
    [InlineData("image/png")]
    [InlineData("application/xml, text/html")]
    public void UnsupportedAcceptIsRefused(string accept) =>
        Assert.False(MediaTypes.TryGetAnswerFormat(accept, RecordFormat.Csv, out _, out _));
}
