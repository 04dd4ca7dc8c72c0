using System.Text.Json.Nodes;
using Parquet;
using Parquet.Schema;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.LeRobot;

/// <summary>The small one-row-group tables of meta/: tasks.parquet and the episodes metadata.</summary>
internal static class LeRobotTables
{
    /// <summary>One column of a table: its schema field and how to write its values.</summary>
    public sealed record Column(Field Field, Func<ParquetRowGroupWriter, Task> Write)
    {
        public static Column Int64(string name, IEnumerable<long> values)
        {
            var f = new DataField<long>(name);
            var a = values.ToArray();
            return new Column(f, rg => ParquetColumns.Write(rg, f, a));
        }

        public static Column Double(string name, IEnumerable<double> values)
        {
            var f = new DataField<double>(name);
            var a = values.ToArray();
            return new Column(f, rg => ParquetColumns.Write(rg, f, a));
        }

        public static Column String(string name, IEnumerable<string> values)
        {
            var f = new DataField<string>(name);
            var a = values.ToArray();
            return new Column(f, rg => ParquetColumns.Write(rg, f, a));
        }

        public static Column StringLists(string name, IEnumerable<IReadOnlyList<string>> rows)
        {
            var f = ParquetColumns.StringList(name);
            var a = rows.ToArray();
            return new Column(f, rg => ParquetColumns.WriteStringLists(rg, f, a));
        }
    }

    /// <summary>Writes <paramref name="columns"/> as one row group, with optional file key-value metadata.</summary>
    public static void Write(string path, IReadOnlyList<Column> columns, IReadOnlyDictionary<string, string>? metadata)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        ParquetColumns.Run(async () =>
        {
            await using var fs = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite);
            await using var w = await ParquetWriter.CreateAsync(new ParquetSchema(columns.Select(c => c.Field)), fs);
            if (metadata is not null) w.CustomMetadata = metadata;
            using var rg = w.CreateRowGroup();
            foreach (var c in columns) await c.Write(rg);
            rg.CompleteValidate();
        });
    }

    /// <summary>
    /// meta/tasks.parquet: columns task_index (int64) and task (string), rows in task_index order. LeRobot reads it
    /// with pandas, which makes "task" the index only when the file's "pandas" metadata says so; without it every
    /// sample's task would silently become an integer (huggingface/lerobot#2467).
    /// </summary>
    public static void WriteTasks(string path, IReadOnlyList<string> tasks)
    {
        JsonObject Col(string name, string pandasType, string numpyType) => new()
        {
            ["name"] = name, ["field_name"] = name, ["pandas_type"] = pandasType, ["numpy_type"] = numpyType, ["metadata"] = null,
        };
        var pandas = new JsonObject
        {
            ["index_columns"] = new JsonArray(LeRobotFormat.Task),
            ["column_indexes"] = new JsonArray(new JsonObject
            {
                ["name"] = null, ["field_name"] = null, ["pandas_type"] = "unicode", ["numpy_type"] = "object",
                ["metadata"] = new JsonObject { ["encoding"] = "UTF-8" },
            }),
            ["columns"] = new JsonArray(Col(LeRobotFormat.TaskIndex, "int64", "int64"), Col(LeRobotFormat.Task, "unicode", "object")),
            ["creator"] = new JsonObject { ["library"] = "RoboFactory.NET", ["version"] = "1" },
            ["pandas_version"] = "2.2.3",
        };
        Write(path,
            [Column.Int64(LeRobotFormat.TaskIndex, tasks.Select((_, i) => (long)i)), Column.String(LeRobotFormat.Task, tasks)],
            new Dictionary<string, string> { ["pandas"] = pandas.ToJsonString() });
    }

    /// <summary>Task texts by task_index. Also reads the unnamed pandas index (__index_level_0__) of datasets converted by LeRobot v0.4.x.</summary>
    public static IReadOnlyList<string> ReadTasks(string path)
    {
        using var t = ParquetTable.Open(path);
        string textColumn = t.HasColumn(LeRobotFormat.Task) ? LeRobotFormat.Task
            : t.HasColumn("__index_level_0__") ? "__index_level_0__"
            : throw new InputFormatException($"{path}: no column '{LeRobotFormat.Task}' (nor pandas' '__index_level_0__') holding the task texts");
        var tasks = new List<string>();
        for (int g = 0; g < t.RowGroupCount; g++)
        {
            var index = t.Int64(g, LeRobotFormat.TaskIndex);
            var text = t.Strings(g, textColumn);
            for (int i = 0; i < index.Length; i++)
            {
                // LeRobot looks a task up by row position (tasks.iloc[task_index]), so the two must agree.
                if (index[i] != tasks.Count)
                    throw new InputFormatException($"{path}: row {tasks.Count} has task_index {index[i]}, expected {tasks.Count} (rows in task_index order)");
                tasks.Add(text[i]);
            }
        }
        return tasks;
    }
}
