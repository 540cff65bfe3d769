using System.Text.Json.Nodes;
using Worker.Hosting;

namespace Worker.Jobs.Transform;

/// <summary>A record the filter cannot be applied to: an index outside it, a missing key, text that is not JSON.</summary>
public sealed class FilterException(string message) : Exception(message);

/// <summary>
/// The JSONPath subset SageMaker's DataProcessing takes ("Supported JSONPath Operators" in "Associate
/// Prediction Results with Input Records"): <c>$</c>, <c>.name</c>, <c>.*</c> / <c>[*]</c>,
/// <c>['a','b']</c>, and <c>[1,3,5]</c> / <c>[2:5]</c> / <c>[0,5:]</c> with negative indexes from the
/// end. Slices include their end, as SageMaker documents them (<c>$[1:4]</c> is "the second through
/// fifth columns"), unlike JavaScript's <c>slice</c>. A CSV record is the array of its fields, so only
/// a path of one index step applies to it.
/// </summary>
public sealed class JsonPathFilter
{
    /// <summary>CreateTransformJob's length limit for InputFilter and OutputFilter.</summary>
    public const int MaxLength = 63;

    private readonly Step[] _steps;

    private JsonPathFilter(string text, Step[] steps)
    {
        Text = text;
        _steps = steps;
        IsIdentity = steps.Length == 0;
        IsDefinite = steps.All(s => s is NameStep || (s is IndexStep { Selectors: [{ IsSlice: false }] }));
        AppliesToCsv = steps.Length == 0 || (steps.Length == 1 && steps[0] is IndexStep or WildcardStep);
    }

    public string Text { get; }

    /// <summary><c>$</c>: the whole record.</summary>
    public bool IsIdentity { get; }

    /// <summary>Names and single indexes only: the result is one value, not a list of them.</summary>
    public bool IsDefinite { get; }

    /// <summary>Whether the path is one of indexes (or <c>$</c>): the only kind a CSV record takes.</summary>
    public bool AppliesToCsv { get; }

    /// <summary>Parses <paramref name="text"/>; a <see cref="ConfigurationException"/> naming <paramref name="option"/> says what is wrong.</summary>
    public static JsonPathFilter Parse(string option, string text)
    {
        var path = text.Trim();
        if (path.Length > MaxLength)
        {
            throw new ConfigurationException(option, $"is {path.Length} characters; CreateTransformJob takes at most {MaxLength}");
        }

        if (path.Length == 0 || path[0] != '$')
        {
            throw new ConfigurationException(option, $"'{text}' must start with $ (the record), e.g. $[1:] or $.features");
        }

        var steps = new List<Step>();
        var at = 1;
        while (at < path.Length)
        {
            if (path[at] == '.')
            {
                at++;
                if (at < path.Length && path[at] == '[')
                {
                    continue; // $.a.['b','c'] is written with a dot before the bracket in SageMaker's docs
                }

                var start = at;
                while (at < path.Length && path[at] is not ('.' or '['))
                {
                    at++;
                }

                var name = path[start..at];
                if (name.Length == 0)
                {
                    throw Bad(option, text, "a name is missing after '.'");
                }

                steps.Add(name == "*" ? new WildcardStep() : new NameStep(name));
                continue;
            }

            if (path[at] != '[')
            {
                throw Bad(option, text, $"unexpected '{path[at]}' at character {at}");
            }

            var close = path.IndexOf(']', at);
            if (close < 0)
            {
                throw Bad(option, text, "a '[' is not closed");
            }

            steps.Add(ParseBracket(option, text, path[(at + 1)..close].Trim()));
            at = close + 1;
        }

        return new JsonPathFilter(path, steps.ToArray());
    }

    private static Step ParseBracket(string option, string text, string inside)
    {
        if (inside == "*")
        {
            return new WildcardStep();
        }

        if (inside.Length > 0 && inside[0] is '\'' or '"')
        {
            var names = new List<string>();
            foreach (var part in inside.Split(','))
            {
                var quoted = part.Trim();
                if (quoted.Length < 2 || quoted[0] != quoted[^1] || quoted[0] is not ('\'' or '"'))
                {
                    throw Bad(option, text, $"[{inside}] must be quoted names such as ['id','SageMakerOutput']");
                }

                var name = quoted[1..^1];
                if (name.Contains('.', StringComparison.Ordinal) || name.Contains('[', StringComparison.Ordinal))
                {
                    throw Bad(option, text, $"'{name}': names in brackets cannot reach further down (SageMaker takes no nesting there)");
                }

                names.Add(name);
            }

            return names.Count == 1 ? new NameStep(names[0]) : new NamesStep(names.ToArray());
        }

        var selectors = new List<Selector>();
        foreach (var part in inside.Split(','))
        {
            var piece = part.Trim();
            var colon = piece.IndexOf(':');
            if (colon < 0)
            {
                selectors.Add(new Selector(false, ParseIndex(option, text, piece), null));
            }
            else
            {
                var from = piece[..colon].Trim();
                var to = piece[(colon + 1)..].Trim();
                if (to.Contains(':', StringComparison.Ordinal))
                {
                    throw Bad(option, text, $"[{piece}]: slices take no step");
                }

                selectors.Add(new Selector(true, from.Length == 0 ? null : ParseIndex(option, text, from), to.Length == 0 ? null : ParseIndex(option, text, to)));
            }
        }

        return new IndexStep(selectors.ToArray());
    }

    private static int ParseIndex(string option, string text, string piece) =>
        int.TryParse(piece, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var index)
            ? index
            : throw Bad(option, text, $"'{piece}' is not an index");

    private static ConfigurationException Bad(string option, string text, string why) =>
        new(option, $"'{text}' is not a JSONPath SageMaker takes: {why}");

    /// <summary>
    /// The fields a CSV record keeps, as indexes into its <paramref name="fieldCount"/> fields, in the
    /// path's order (repeats kept). Only for a path that <see cref="AppliesToCsv"/>.
    /// </summary>
    public void SelectFields(int fieldCount, List<int> selected)
    {
        selected.Clear();
        if (_steps.Length == 0 || _steps[0] is WildcardStep)
        {
            for (var i = 0; i < fieldCount; i++)
            {
                selected.Add(i);
            }

            return;
        }

        Resolve(((IndexStep)_steps[0]).Selectors, fieldCount, selected, "field");
    }

    /// <summary>The part of <paramref name="record"/> the path selects: one value for a definite path, else an array of them.</summary>
    public JsonNode? Apply(JsonNode? record)
    {
        if (_steps.Length == 0)
        {
            return record;
        }

        if (IsDefinite)
        {
            var node = record;
            foreach (var step in _steps)
            {
                node = step is NameStep name ? Child(node, name.Name) : Item(node, ((IndexStep)step).Selectors[0].Index);
            }

            return node;
        }

        List<JsonNode?> current = [record];
        var names = _steps[^1] as NamesStep;
        var last = names is null ? _steps.Length : _steps.Length - 1;
        for (var s = 0; s < last; s++)
        {
            var next = new List<JsonNode?>();
            foreach (var node in current)
            {
                Expand(_steps[s], node, next);
            }

            current = next;
        }

        if (names is not null)
        {
            var objects = current.Select(node => (JsonNode?)PickNames(node, names.Names)).ToList();
            if (last == 0 || _steps.Take(last).All(s => s is NameStep || (s is IndexStep { Selectors: [{ IsSlice: false }] })))
            {
                return objects[0]; // $['id','SageMakerOutput']: one object of those keys
            }

            current = objects;
        }

        var array = new JsonArray();
        foreach (var node in current)
        {
            array.Add(node?.DeepClone());
        }

        return array;
    }

    private static void Expand(Step step, JsonNode? node, List<JsonNode?> into)
    {
        switch (step)
        {
            case NameStep name:
                into.Add(Child(node, name.Name));
                break;
            case WildcardStep:
                if (node is JsonObject obj)
                {
                    into.AddRange(obj.Select(pair => pair.Value));
                }
                else if (node is JsonArray items)
                {
                    into.AddRange(items);
                }
                else
                {
                    throw new FilterException($"* needs an object or an array, found {Kind(node)}");
                }

                break;
            case IndexStep index:
                if (node is not JsonArray array)
                {
                    throw new FilterException($"an index needs an array, found {Kind(node)}");
                }

                var picked = new List<int>();
                Resolve(index.Selectors, array.Count, picked, "element");
                into.AddRange(picked.Select(i => array[i]));
                break;
            case NamesStep names:
                into.Add(PickNames(node, names.Names));
                break;
        }
    }

    private static JsonObject PickNames(JsonNode? node, string[] names)
    {
        var picked = new JsonObject();
        foreach (var name in names)
        {
            picked[name] = Child(node, name)?.DeepClone();
        }

        return picked;
    }

    private static JsonNode? Child(JsonNode? node, string name)
    {
        if (node is not JsonObject obj)
        {
            throw new FilterException($"'{name}' needs an object, found {Kind(node)}");
        }

        return obj.TryGetPropertyValue(name, out var child) ? child : throw new FilterException($"the record has no '{name}'");
    }

    private static JsonNode? Item(JsonNode? node, int index)
    {
        if (node is not JsonArray array)
        {
            throw new FilterException($"[{index}] needs an array, found {Kind(node)}");
        }

        var at = index < 0 ? array.Count + index : index;
        return at >= 0 && at < array.Count ? array[at] : throw new FilterException($"index {index} is outside the array of {array.Count} element(s)");
    }

    /// <summary>Indexes outside the record are errors (SageMaker's rule); slices end at the record's ends.</summary>
    private static void Resolve(Selector[] selectors, int count, List<int> into, string what)
    {
        foreach (var selector in selectors)
        {
            if (!selector.IsSlice)
            {
                var at = selector.Index < 0 ? count + selector.Index : selector.Index;
                if (at < 0 || at >= count)
                {
                    throw new FilterException($"index {selector.Index} is outside the record's {count} {what}(s)");
                }

                into.Add(at);
                continue;
            }

            var from = selector.Start is { } s ? (s < 0 ? count + s : s) : 0;
            var through = selector.End is { } e ? (e < 0 ? count + e : e) : count - 1;
            for (var i = Math.Max(0, from); i <= Math.Min(count - 1, through); i++)
            {
                into.Add(i);
            }
        }
    }

    private static string Kind(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "an object",
        JsonArray => "an array",
        _ => node.GetValueKind().ToString().ToLowerInvariant(),
    };

    private abstract record Step;

    private sealed record NameStep(string Name) : Step;

    private sealed record NamesStep(string[] Names) : Step;

    private sealed record WildcardStep : Step;

    private sealed record IndexStep(Selector[] Selectors) : Step;

    /// <summary>One index (<see cref="Index"/>) or a slice from <see cref="Start"/> through <see cref="End"/>.</summary>
    private readonly record struct Selector(bool IsSlice, int? Start, int? End)
    {
        public int Index => Start ?? 0;
    }
}
