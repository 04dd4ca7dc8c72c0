using System.CommandLine;
using RoboFactory.Vla.Training;

namespace RoboFactory.Cli.Commands;

/// <summary>`--prompt-stand-in bytes|words` of `train`, `quickstart` and `model predict` (one home for all three).</summary>
public static class PromptOptions
{
    public static Option<string> StandIn(PromptStandIn defaultValue)
    {
        var o = new Option<string>("--prompt-stand-in")
        {
            Description = "Prompt ids without a tokenizer.model (the from-scratch tiny model): bytes (one id per UTF-8 byte: 64 for \"lift the barrier\") | " +
                          "words (one hashed id per word: 13, a length like a real tokenizer's, so each step costs less). A trained checkpoint records its own in policy.json",
            DefaultValueFactory = _ => Name(defaultValue),
        };
        o.AcceptOnlyFromAmong(Name(PromptStandIn.Bytes), Name(PromptStandIn.Words));
        return o;
    }

    public static string Name(PromptStandIn s) => s.ToString().ToLowerInvariant();

    public static PromptStandIn Parse(ParseResult r, Option<string> o) => Enum.Parse<PromptStandIn>(r.GetValue(o)!, ignoreCase: true);
}
