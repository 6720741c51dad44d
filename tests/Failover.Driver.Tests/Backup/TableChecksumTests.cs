using Failover.Driver.Backup;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Backup;

/// <summary>The per-table checksums a manifest records and a restore is verified against.</summary>
public class TableChecksumTests(PostgresCluster cluster) : IClassFixture<PostgresCluster>
{
    [Fact]
    public async Task Hashable_tables_use_column_hashes_others_fall_back_to_row_text_and_both_see_a_changed_row()
    {
        var db = await cluster.CreateAsync("checksums", """
            CREATE TABLE plain (id int PRIMARY KEY, name text, tags jsonb);
            INSERT INTO plain SELECT g, 'n' || g, jsonb_build_object('g', g) FROM generate_series(1, 500) g;
            CREATE TABLE documents (id int PRIMARY KEY, body json);
            INSERT INTO documents SELECT g, json_build_object('g', g) FROM generate_series(1, 500) g;
            """);
        var tools = new PostgresTools();
        var before = (await tools.TablesAsync(db, CancellationToken.None)).ToDictionary(t => t.Name);
        Assert.StartsWith("r:", before["plain"].Checksum);      // column types with hash functions
        Assert.StartsWith("t:", before["documents"].Checksum);  // json has none: the row's text is hashed
        Assert.Equal(500, before["documents"].Rows);

        // Same data, same checksums; one changed value changes them, with the row count unchanged.
        var again = (await tools.TablesAsync(db, CancellationToken.None)).ToDictionary(t => t.Name);
        Assert.Equal(before["plain"].Checksum, again["plain"].Checksum);
        await PostgresCluster.ExecuteAsync(db, "UPDATE plain SET name = 'changed' WHERE id = 7; UPDATE documents SET body = '{\"g\": -1}' WHERE id = 7;");
        var after = (await tools.TablesAsync(db, CancellationToken.None)).ToDictionary(t => t.Name);
        Assert.NotEqual(before["plain"].Checksum, after["plain"].Checksum);
        Assert.NotEqual(before["documents"].Checksum, after["documents"].Checksum);
        Assert.Equal(before["plain"].Rows, after["plain"].Rows);
    }
}
