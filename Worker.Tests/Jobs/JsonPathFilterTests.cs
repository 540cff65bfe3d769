using System.Text;
using System.Text.Json.Nodes;
using Worker.Hosting;
using Worker.Jobs.Transform;

namespace Worker.Tests.Jobs;

/// <summary>
/// The JSONPath subset of SageMaker's DataProcessing, checked against the examples of "Associate
/// Prediction Results with Input Records" (slices include their end there: $[1:4] is "the second
/// through fifth columns").
/// </summary>
public class JsonPathFilterTests
{
    private static int[] Fields(string path, int count)
    {
        var selected = new List<int>();
        JsonPathFilter.Parse("--input-filter", path).SelectFields(count, selected);
        return selected.ToArray();
    }

    [Theory]
    [InlineData("$", 5, new[] { 0, 1, 2, 3, 4 })]
    [InlineData("$[*]", 3, new[] { 0, 1, 2 })]
    [InlineData("$[1:]", 5, new[] { 1, 2, 3, 4 })]
    [InlineData("$[1:4]", 6, new[] { 1, 2, 3, 4 })]
    [InlineData("$[:5]", 8, new[] { 0, 1, 2, 3, 4, 5 })]
    [InlineData("$[5:]", 8, new[] { 5, 6, 7 })]
    [InlineData("$[2:5]", 4, new[] { 2, 3 })]
    [InlineData("$[0,-1]", 8, new[] { 0, 7 })]
    [InlineData("$[-1]", 3, new[] { 2 })]
    [InlineData("$[1,3,5]", 6, new[] { 1, 3, 5 })]
    [InlineData("$[0,5:]", 7, new[] { 0, 5, 6 })]
    [InlineData("$[-2:]", 5, new[] { 3, 4 })]
    [InlineData("$[ 0 , 2 ]", 3, new[] { 0, 2 })]
    public void CsvIndexPathsSelectFieldsAsSageMakerDocumentsThem(string path, int count, int[] expected)
    {
        Assert.Equal(expected, Fields(path, count));
    }

    [Theory]
    [InlineData("$[5]", 5)]
    [InlineData("$[-6]", 5)]
    [InlineData("$[0,9]", 3)]
    public void AnIndexOutsideTheRecordIsAnError(string path, int count)
    {
        var e = Assert.Throws<FilterException>(() => Fields(path, count));
        Assert.Contains("outside", e.Message);
        Assert.Contains($"{count} field", e.Message);
    }

    [Theory]
    [InlineData("", "must start with $")]
    [InlineData("[1:]", "must start with $")]
    [InlineData("$[1:", "not closed")]
    [InlineData("$[a]", "not an index")]
    [InlineData("$[1:2:3]", "no step")]
    [InlineData("$.", "name is missing")]
    [InlineData("$x", "unexpected 'x'")]
    [InlineData("$.field1.['child1','child2.grandchild']", "no nesting")]
    [InlineData("$['a',b]", "quoted names")]
    public void AMalformedPathIsAConfigurationErrorSayingWhy(string path, string why)
    {
        var e = Assert.Throws<ConfigurationException>(() => JsonPathFilter.Parse("--output-filter", path));
        Assert.Contains("--output-filter", e.Message);
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void APathOverCreateTransformJobsLengthLimitIsRefused()
    {
        var path = "$['" + new string('a', 60) + "']";
        var e = Assert.Throws<ConfigurationException>(() => JsonPathFilter.Parse("--input-filter", path));
        Assert.Contains("at most 63", e.Message);
    }

    [Theory]
    [InlineData("$", true)]
    [InlineData("$[1:]", true)]
    [InlineData("$[*]", true)]
    [InlineData("$.id", false)]
    [InlineData("$['id','SageMakerOutput']", false)]
    [InlineData("$[0][1]", false)]
    public void OnlyIndexPathsApplyToCsv(string path, bool appliesToCsv)
    {
        Assert.Equal(appliesToCsv, JsonPathFilter.Parse("f", path).AppliesToCsv);
    }

    private static string Apply(string path, string json) =>
        JsonPathFilter.Parse("f", path).Apply(JsonNode.Parse(json))?.ToJsonString() ?? "null";

    [Theory]
    [InlineData("$", """{"a":1}""", """{"a":1}""")]
    [InlineData("$.features", """{"id":7,"features":[1,2.5,3]}""", "[1,2.5,3]")]
    [InlineData("$.a.b", """{"a":{"b":"x"}}""", "\"x\"")]
    [InlineData("$['id','SageMakerOutput']", """{"id":7,"f":[1],"SageMakerOutput":{"label":1}}""", """{"id":7,"SageMakerOutput":{"label":1}}""")]
    [InlineData("$.field1.['child1','child2']", """{"field1":{"child1":1,"child2":2,"child3":3}}""", """{"child1":1,"child2":2}""")]
    [InlineData("$.id.*", """{"id":{"a":1,"b":[2]}}""", "[1,[2]]")]
    [InlineData("$[1]", "[10,20,30]", "20")]
    [InlineData("$[-1]", "[10,20,30]", "30")]
    [InlineData("$[1,2]", "[10,20,30]", "[20,30]")]
    [InlineData("$[1:]", "[10,20,30]", "[20,30]")]
    [InlineData("$.rows[*].x", """{"rows":[{"x":1},{"x":2}]}""", "[1,2]")]
    [InlineData("$['only']", """{"only":null,"other":1}""", "null")]
    public void JsonPathsSelectAsSageMakerDocumentsThem(string path, string json, string expected)
    {
        Assert.Equal(expected, Apply(path, json));
    }

    [Theory]
    [InlineData("$.missing", """{"a":1}""", "no 'missing'")]
    [InlineData("$.a", "[1,2]", "needs an object")]
    [InlineData("$[3]", "[1,2]", "outside the array")]
    [InlineData("$[0]", """{"a":1}""", "needs an array")]
    [InlineData("$['a','b']", """{"a":1}""", "no 'b'")]
    public void AJsonRecordThePathDoesNotFitIsAnError(string path, string json, string why)
    {
        var e = Assert.Throws<FilterException>(() => Apply(path, json));
        Assert.Contains(why, e.Message);
    }

    private static string Joined(DataProcessing processing, bool csvInput, string original, string answer, string? answerType)
    {
        var processor = new RecordProcessor(processing, csvInput);
        var into = new System.Buffers.ArrayBufferWriter<byte>();
        processor.WriteAnswer(Encoding.UTF8.GetBytes(original), Encoding.UTF8.GetBytes(answer), AnswerRecords.IsCsv(answerType), AnswerRecords.IsJson(answerType), into);
        return Encoding.UTF8.GetString(into.WrittenSpan);
    }

    private static DataProcessing Join(string? output = null) =>
        new(null, JoinSource.Input, output is null ? null : JsonPathFilter.Parse("--output-filter", output));

    [Fact]
    public void TheDocumentedJoinsComeOutAsDocumented()
    {
        // "if the record is [1,2,3], and the label result is [1], then the output file would contain [1,2,3,1]"
        Assert.Equal("1,2,3,1", Joined(Join(), csvInput: true, "1,2,3", "1", "text/csv"));

        // {"key":1} with the result {"label":1}: the result goes under SageMakerOutput.
        Assert.Equal("""{"key":1,"SageMakerOutput":{"label":1}}""", Joined(Join(), csvInput: false, """{"key":1}""", """{"label":1}""", "application/jsonlines"));

        // Not an object: the input goes under SageMakerInput beside it.
        Assert.Equal("""{"SageMakerInput":[1,2],"SageMakerOutput":{"label":1}}""", Joined(Join(), csvInput: false, "[1,2]", """{"label":1}""", "application/jsonlines"));

        // The ID and the prediction, out of a joined CSV record; quoted fields keep their quotes.
        Assert.Equal("\"id, 7\",0.25", Joined(Join("$[0,-1]"), csvInput: true, "\"id, 7\",1,2,3", "0.5,0.25", "text/csv"));
        Assert.Equal("""{"id":7,"SageMakerOutput":{"Y":[1]}}""", Joined(Join("$['id','SageMakerOutput']"), csvInput: false, """{"id":7,"features":[1,2]}""", """{"Y":[1]}""", "application/jsonlines"));
    }

    [Fact]
    public void AJsonAnswerOnACsvRecordIsOneQuotedField()
    {
        Assert.Equal("1,2,\"{\"\"Y\"\":[1]}\"", Joined(Join(), csvInput: true, "1,2", """{"Y":[1]}""", "application/jsonlines"));
    }

    [Fact]
    public void AnOutputFilterWithoutAJoinAppliesToTheAnswer()
    {
        var processing = new DataProcessing(null, JoinSource.None, JsonPathFilter.Parse("--output-filter", "$[1]"));
        Assert.Equal("0.25", Joined(processing, csvInput: true, "ignored", "0.5,0.25", "text/csv"));
        var byName = new DataProcessing(null, JoinSource.None, JsonPathFilter.Parse("--output-filter", "$.Y"));
        Assert.Equal("[1,2]", Joined(byName, csvInput: true, "ignored", """{"Y":[1,2]}""", "application/jsonlines"));
    }

    [Fact]
    public void TheInputFilterSendsWhatItSelects()
    {
        static string Filtered(string path, bool csv, string record)
        {
            var processor = new RecordProcessor(new DataProcessing(JsonPathFilter.Parse("--input-filter", path), JoinSource.None, null), csv);
            var into = new System.Buffers.ArrayBufferWriter<byte>();
            processor.FilterInput(Encoding.UTF8.GetBytes(record), into);
            return Encoding.UTF8.GetString(into.WrittenSpan);
        }

        Assert.Equal("1,\"a,\"\"b\"\"\",3", Filtered("$[1:]", csv: true, "id7,1,\"a,\"\"b\"\"\",3"));
        Assert.Equal(",", Filtered("$[0,2]", csv: true, ",x,"));
        Assert.Equal("[1,2]", Filtered("$.features", csv: false, """{"id":"a","features":[1,2]}"""));
        Assert.Equal("\"é\"", Filtered("$.s", csv: false, """{"s":"é"}"""));
    }

    [Theory]
    [InlineData("text/csv", "1,2\n\"a\nb\",3\n", 2)]
    [InlineData("application/jsonlines", "{\"Y\":1}\r\n{\"Y\":2}", 2)]
    [InlineData("application/json", """{"predictions": [{"Y":[1,2]}, {"Y":[3]}, 4]}""", 3)]
    [InlineData("application/json", """{"anything": 1}""", 1)]
    public void AnswersAreCutIntoOnePerRecord(string contentType, string body, int records)
    {
        var pieces = new List<Range>();
        AnswerRecords.Split(Encoding.UTF8.GetBytes(body), contentType, records, pieces);
        Assert.Equal(records, pieces.Count);
    }

    [Fact]
    public void AnAnswerThatIsNotOnePerRecordIsAnErrorSayingWhatIsNeeded()
    {
        var e = Assert.Throws<FilterException>(() => AnswerRecords.Split("1\n2\n"u8, "text/csv", 3, []));
        Assert.Contains("2 record(s)", e.Message);
        Assert.Contains("for 3 sent", e.Message);
    }
}
