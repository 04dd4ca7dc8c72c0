using System.Globalization;
using System.Xml.Linq;
using RoboFactory.Sim.Math;

namespace RoboFactory.Sim.Scene;

/// <summary>Small helpers for writing MJCF with invariant number formatting.</summary>
public static class Mjcf
{
    public static string Num(double v) => v.ToString("0.#########", CultureInfo.InvariantCulture);
    public static string Nums(params double[] v) => string.Join(' ', v.Select(Num));
    public static string Vec(Vec3 v) => Nums(v.X, v.Y, v.Z);
    public static string Quat(Quat q) => Nums(q.W, q.X, q.Y, q.Z);

    public static XElement El(string name, params object?[] content) => new(name, content.Where(c => c is not null));
    public static XAttribute A(string name, string value) => new(name, value);
    public static XAttribute A(string name, double value) => new(name, Num(value));
    public static XAttribute A(string name, int value) => new(name, value.ToString(CultureInfo.InvariantCulture));
}
