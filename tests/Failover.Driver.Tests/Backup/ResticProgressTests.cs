using Failover.Driver.Backup;

namespace Failover.Driver.Tests.Backup;

/// <summary>restic's `restore --json` lines, as restic 0.16+ prints them and as Debian 12's 0.14 does (one plain line).</summary>
public class ResticProgressTests
{
    [Theory]
    [InlineData("{\"message_type\":\"status\",\"seconds_elapsed\":2,\"percent_done\":0.5,\"total_files\":3,\"files_restored\":1,\"total_bytes\":2048,\"bytes_restored\":1024}", 1024L)]
    [InlineData("{\"message_type\":\"summary\",\"seconds_elapsed\":4,\"total_files\":3,\"files_restored\":3,\"total_bytes\":2048,\"bytes_restored\":2048}", 2048L)]
    [InlineData("restoring <Snapshot 37e1f51f of [/tmp/data] at 2026-12-01 11:05:22 +0000 UTC by root@vm> to /tmp/out", null)]
    [InlineData("{\"message_type\":\"verbose_status\",\"action\":\"restored\",\"item\":\"/a\",\"size\":10}", null)]
    [InlineData("{not json", null)]
    public void Bytes_restored_come_from_status_and_summary_lines_only(string line, long? bytes) =>
        Assert.Equal(bytes, ResticRepository.RestoredBytes(line));
}
