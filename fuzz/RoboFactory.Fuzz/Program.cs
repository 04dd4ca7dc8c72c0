using RoboFactory.Fuzz;

// RoboFactory.Fuzz: the afl++ entry point (see fuzz/run.sh) and a replayer that needs no afl.
//   list                      the targets and the parser each one drives
//   run TARGET                the SharpFuzz fork-server loop (under afl-fuzz; outside it, one input from stdin)
//   replay TARGET PATH...     each file (or every file in a folder) once; exit 1 on a contract break
//   seeds DIR                 writes the seed corpus (DIR/TARGET/*) from the project's own writers
static int Usage()
{
    Console.Error.WriteLine("usage: RoboFactory.Fuzz list | run TARGET | replay TARGET PATH... | seeds DIR");
    return 2;
}

if (args.Length == 0) return Usage();
switch (args[0])
{
    case "list":
        foreach (var t in FuzzTargets.All) Console.WriteLine($"{t.Name,-20} {t.Parser}");
        return 0;
    case "run" when args.Length == 2:
    {
        var target = FuzzTargets.Get(args[1]);
        using var scratch = new FuzzScratch();
        void Once(Stream stream)
        {
            using var ms = new MemoryStream();
            stream.CopyTo(ms);
            target.Run(ms.ToArray(), scratch);
        }
        if (target.Native) SharpFuzz.Fuzzer.OutOfProcess.Run(Once);
        else SharpFuzz.Fuzzer.Run(Once);
        return 0;
    }
    case "replay" when args.Length >= 3:
    {
        var target = FuzzTargets.Get(args[1]);
        using var scratch = new FuzzScratch();
        int broken = 0;
        foreach (var file in args.Skip(2).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p).Order() : (IEnumerable<string>)[p]))
        {
            try { Console.WriteLine($"{target.Run(File.ReadAllBytes(file), scratch),-8} {file}"); }
            catch (Exception e)
            {
                broken++;
                Console.WriteLine($"BROKEN   {file}: {e.GetType().Name}: {e.Message}");
                Console.Error.WriteLine(e);
            }
        }
        return broken == 0 ? 0 : 1;
    }
    case "seeds" when args.Length == 2:
        foreach (var (target, files) in FuzzSeeds.Write(args[1])) Console.WriteLine($"{target,-20} {files} file(s)");
        return 0;
    default:
        return Usage();
}
