namespace RoboFactory.Cli;

public static class Program
{
    public static int Main(string[] args) => Commands.Root.Run(args);
}
