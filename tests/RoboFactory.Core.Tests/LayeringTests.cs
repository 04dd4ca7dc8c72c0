using System.Xml.Linq;

namespace RoboFactory.Core.Tests;

/// <summary>
/// The project graph as the architecture states it: data flows Sim → Planning → Recording, Data and Vla stand on
/// their own (Vla may read Data's datasets), Eval joins them, Cli is on top. Checked on the .csproj files, transitively.
/// </summary>
public class LayeringTests
{
    static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["RoboFactory.Core"] = [],
        ["RoboFactory.Sim"] = ["RoboFactory.Core"],
        ["RoboFactory.Planning"] = ["RoboFactory.Sim"],
        ["RoboFactory.Data"] = ["RoboFactory.Core"],
        ["RoboFactory.Vla"] = ["RoboFactory.Data"],
        ["RoboFactory.Recording"] = ["RoboFactory.Planning", "RoboFactory.Data"],
        ["RoboFactory.Eval"] = ["RoboFactory.Recording", "RoboFactory.Vla"],
        ["RoboFactory.Cli"] = ["RoboFactory.Eval", "RoboFactory.Bench"],
    };

    static Dictionary<string, string[]> DirectReferences()
    {
        var refs = new Dictionary<string, string[]>();
        foreach (var proj in Directory.GetFiles(Path.Combine(Repo.Root, "src"), "*.csproj", SearchOption.AllDirectories)
                     .Concat(Directory.GetFiles(Path.Combine(Repo.Root, "bench"), "*.csproj", SearchOption.AllDirectories)))
        {
            refs[Path.GetFileNameWithoutExtension(proj)] = XDocument.Load(proj).Descendants("ProjectReference")
                .Select(r => Path.GetFileNameWithoutExtension(r.Attribute("Include")!.Value)).Order().ToArray();
        }
        return refs;
    }

    static HashSet<string> Closure(Dictionary<string, string[]> refs, string project)
    {
        var seen = new HashSet<string>();
        var stack = new Stack<string>(refs.GetValueOrDefault(project, []));
        while (stack.Count > 0)
        {
            var p = stack.Pop();
            if (seen.Add(p)) foreach (var q in refs.GetValueOrDefault(p, [])) stack.Push(q);
        }
        return seen;
    }

    [Fact]
    public void Every_source_project_references_exactly_its_layer_below()
    {
        var refs = DirectReferences();
        foreach (var (project, allowed) in Allowed)
            Assert.Equal(allowed.Order(), refs[project]);
        Assert.Empty(refs.Keys.Except(Allowed.Keys).Except(["RoboFactory.Bench"]));
    }

    [Theory]
    [InlineData("RoboFactory.Core")]
    [InlineData("RoboFactory.Data")]
    [InlineData("RoboFactory.Vla")]
    public void Data_and_model_never_reach_the_simulator_or_planner(string project)
    {
        var reach = Closure(DirectReferences(), project);
        Assert.DoesNotContain("RoboFactory.Sim", reach);
        Assert.DoesNotContain("RoboFactory.Planning", reach);
        Assert.DoesNotContain("RoboFactory.Recording", reach);
    }

    [Fact]
    public void Core_has_no_package_references()
    {
        var proj = XDocument.Load(Path.Combine(Repo.Root, "src", "RoboFactory.Core", "RoboFactory.Core.csproj"));
        Assert.Empty(proj.Descendants("PackageReference"));
        Assert.Empty(proj.Descendants("ProjectReference"));
    }
}
