using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using RoboFactory.Core.Errors;

namespace RoboFactory.Sim.Config;

/// <summary>A task/scene YAML file is wrong; the message names the file, the key and what was expected.</summary>
public sealed class ConfigException(string message) : InputFormatException(message);

/// <summary>
/// A position inside a YAML document: the node plus its key path, so every error can say
/// "file:line: agents[1].base.p: expected ...". Reads scalars strictly (no silent defaults for typos).
/// </summary>
public sealed class ConfigNode
{
    public string File { get; }
    public string Path { get; }
    private readonly YamlNode node;

    private ConfigNode(string file, string path, YamlNode node) { File = file; Path = path; this.node = node; }

    public static ConfigNode Load(string file)
    {
        if (!System.IO.File.Exists(file)) throw new ConfigException($"{file}: file not found");
        return Parse(System.IO.File.ReadAllText(file), file);
    }

    public static ConfigNode Parse(string text, string file)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException e) { throw new ConfigException($"{file}:{e.Start.Line}: invalid YAML: {e.Message}"); }
        catch (InvalidOperationException e) { throw new ConfigException($"{file}: invalid YAML: {e.Message}"); }
        // YamlDotNet reports some malformed input (empty or non-URI tags, events its representation model does not
        // take) as ArgumentException; while loading a text, every such case is the text's fault (found by afl)
        catch (ArgumentException e) { throw new ConfigException($"{file}: invalid YAML: {e.Message.Split(" (Parameter")[0]}"); }
        if (stream.Documents.Count == 0) throw new ConfigException($"{file}: empty document, expected a mapping");
        return new ConfigNode(file, "", stream.Documents[0].RootNode);
    }

    private string Where => $"{File}:{node.Start.Line}: {(Path.Length == 0 ? "<root>" : Path)}";
    public ConfigException Error(string expected) =>
        new($"{Where}: expected {expected}, got {Describe(node)}");
    public ConfigException Invalid(string message) => new($"{Where}: {message}");

    private static string Describe(YamlNode n) => n switch
    {
        YamlScalarNode s => $"'{s.Value}'",
        YamlSequenceNode q => $"a list of {q.Children.Count} item(s)",
        YamlMappingNode => "a mapping",
        _ => n.NodeType.ToString(),
    };

    private YamlMappingNode Mapping => node as YamlMappingNode ?? throw Error("a mapping");
    private string Child(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    public bool Has(string key) => Mapping.Children.ContainsKey(new YamlScalarNode(key));

    public ConfigNode this[string key] =>
        Optional(key) ?? throw new ConfigException($"{Where}: missing required key '{key}'");

    public ConfigNode? Optional(string key) =>
        Mapping.Children.TryGetValue(new YamlScalarNode(key), out var v) ? new ConfigNode(File, Child(key), v) : null;

    /// <summary>Rejects keys not in <paramref name="known"/>, so a typo is an error instead of a silent default.</summary>
    public ConfigNode AllowOnly(params string[] known)
    {
        foreach (var k in Mapping.Children.Keys)
        {
            string name = (k as YamlScalarNode)?.Value ?? "?";
            if (!known.Contains(name))
                throw new ConfigException($"{File}:{k.Start.Line}: {Child(name)}: unknown key; expected one of: {string.Join(", ", known)}");
        }
        return this;
    }

    public IReadOnlyList<ConfigNode> Items()
    {
        var seq = node as YamlSequenceNode ?? throw Error("a list");
        return seq.Children.Select((c, i) => new ConfigNode(File, $"{Path}[{i}]", c)).ToList();
    }

    public IEnumerable<(string Key, ConfigNode Value)> Entries() =>
        Mapping.Children.Select(kv => (((YamlScalarNode)kv.Key).Value ?? "", new ConfigNode(File, Child(((YamlScalarNode)kv.Key).Value ?? ""), kv.Value)));

    private string Scalar(string expected) =>
        (node as YamlScalarNode)?.Value ?? throw Error(expected);

    public string String()
    {
        string s = Scalar("a string");
        return s.Length > 0 ? s : throw Error("a non-empty string");
    }

    public double Double()
    {
        string s = Scalar("a number");
        if (TryExpression(s, out double v)) return v;
        throw Error("a number");
    }

    public int Int()
    {
        string s = Scalar("an integer");
        return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw Error("an integer");
    }

    public int PositiveInt()
    {
        int v = Int();
        return v > 0 ? v : throw Error("a positive integer");
    }

    public double PositiveDouble()
    {
        double v = Double();
        return v > 0 ? v : throw Error("a positive number");
    }

    public bool Bool()
    {
        string s = Scalar("true or false");
        return s switch { "true" or "True" => true, "false" or "False" => false, _ => throw Error("true or false") };
    }

    /// <summary>A list of exactly <paramref name="count"/> numbers (any count when null).</summary>
    public double[] Doubles(int? count = null)
    {
        var seq = node as YamlSequenceNode;
        string expected = count is null ? "a list of numbers" : $"a list of {count} numbers";
        if (seq is null || (count is not null && seq.Children.Count != count)) throw Error(expected);
        var result = new double[seq.Children.Count];
        for (int i = 0; i < result.Length; i++)
        {
            if (seq.Children[i] is not YamlScalarNode s || !TryExpression(s.Value ?? "", out result[i])) throw Error(expected);
        }
        return result;
    }

    /// <summary>Numbers may be written as plain literals or as simple multiples of pi ("pi/2", "-3*pi/4").</summary>
    private static bool TryExpression(string text, out double value)
    {
        string t = text.Trim().Replace(" ", "");
        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out value)) return double.IsFinite(value);
        double sign = 1;
        if (t.StartsWith('-')) { sign = -1; t = t[1..]; }
        double factor = 1, divisor = 1;
        int star = t.IndexOf('*');
        if (star > 0)
        {
            if (!double.TryParse(t[..star], NumberStyles.Float, CultureInfo.InvariantCulture, out factor)) return false;
            t = t[(star + 1)..];
        }
        int slash = t.IndexOf('/');
        if (slash > 0)
        {
            if (!double.TryParse(t[(slash + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out divisor) || divisor == 0) return false;
            t = t[..slash];
        }
        if (t != "pi") { value = 0; return false; }
        value = sign * factor * System.Math.PI / divisor;
        return true;
    }
}
