namespace RoboFactory.Cli;

public static class Program
{
    public static int Main(string[] args) => Commands.Root.Build().Parse(args).Invoke();
}
