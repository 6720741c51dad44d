namespace Failover.Core.Backup;

/// <summary>
/// The SQL of a table's row count and checksum, written once: the backup records it in the manifest, the driver's
/// restore and the cloud server's restore (psql) compute it again and compare. Sums of two different 64-bit hashes
/// of each row: independent of row order and constant in memory, so it works on tables of any size; the count catches
/// what a sum might not. Hashing the row's columns with their types' own hash functions (the ones hash partitioning
/// relies on, stable across versions) avoids converting every row to text; a table with a column type that has no
/// hash function (json, geometric types) falls back to hashing the row's text. The prefix records which.
/// </summary>
public static class TableChecksums
{
    public const string HashedPrefix = "r:";
    public const string TextPrefix = "t:";

    /// <summary>Fixed output formats, so the same rows give the same text (and checksum) on any server and session.</summary>
    public static readonly IReadOnlyList<(string Name, string Value)> Settings =
        [("TimeZone", "UTC"), ("DateStyle", "ISO,YMD"), ("IntervalStyle", "postgres"), ("extra_float_digits", "1"), ("bytea_output", "hex")];

    /// <summary>The settings as SQL for the driver's transaction (<c>SET LOCAL</c>).</summary>
    public static string SettingsSql => string.Join(' ', Settings.Select(s => $"SET LOCAL {s.Name} = '{s.Value}';"));

    /// <summary>The settings as libpq's PGOPTIONS, for a psql session (no value holds a space).</summary>
    public static string PgOptions => string.Join(' ', Settings.Select(s => $"-c {s.Name}={s.Value}"));

    /// <summary>The user tables (schema, name), ordered.</summary>
    public const string ListTables =
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " +
        "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') " +
        "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' ORDER BY 1, 2";

    /// <summary>Count and checksum by the column types' hash functions; fails (undefined function) for a type without one.</summary>
    public static string Hashed(string table) =>
        $"SELECT count(*), '{HashedPrefix}' || coalesce(sum(hash_record_extended(t, 0)), 0)::text || '-' || coalesce(sum(hash_record_extended(t, 1)), 0)::text FROM {table} AS t";

    /// <summary>Count and checksum of the rows' text, for tables <see cref="Hashed"/> cannot hash.</summary>
    public static string AsText(string table) =>
        $"SELECT count(*), '{TextPrefix}' || coalesce(sum(hashtextextended(r, 0)), 0)::text || '-' || coalesce(sum(hashtextextended(r, 1)), 0)::text " +
        $"FROM (SELECT t::text AS r FROM {table} AS t) AS rows";
}
