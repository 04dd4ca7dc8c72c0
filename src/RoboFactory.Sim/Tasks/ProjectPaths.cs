namespace RoboFactory.Sim.Tasks;

/// <summary>Finds the repository's configs/ folder: $ROBOFACTORY_ROOT, else the nearest parent of the working or program directory.</summary>
public static class ProjectPaths
{
    public static string Root { get; } = FindRoot();

    public static string TableConfigDir => Path.Combine(Root, "configs", "table");

    private static string FindRoot()
    {
        string? env = Environment.GetEnvironmentVariable("ROBOFACTORY_ROOT");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(Path.Combine(env, "configs"))) return env;
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
                if (Directory.Exists(Path.Combine(d.FullName, "configs", "table"))) return d.FullName;
        return Directory.GetCurrentDirectory();
    }
}
