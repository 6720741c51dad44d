using Failover.Driver.Engine;

namespace Failover.Driver.Tests.Engine;

/// <summary>The typed effect keys write the text journals already hold, so a run journaled before them still resumes.</summary>
public class EffectKeyTests
{
    [Fact]
    public void Every_key_is_the_text_older_journals_recorded()
    {
        (EffectKey Key, string Journaled)[] keys =
        [
            (EffectKey.Verify("contoso", "1a2b"), "verify:contoso:1a2b"), (EffectKey.Fallback("contoso", "1a2b"), "fallback:contoso:1a2b"),
            (EffectKey.Provision("standby-hel1"), "provision:standby-hel1"), (EffectKey.FinalProvision("standby-hel1"), "provision:final:standby-hel1"),
            (EffectKey.Restore("contoso"), "restore:contoso"), (EffectKey.FinalRestore("contoso"), "final-restore:contoso"),
            (EffectKey.RestoreData("contoso", "1a2b"), "data:contoso:1a2b"), (EffectKey.RestoreHook("post", "contoso", 2), "hook:post:contoso:2"),
            (EffectKey.Fence("prod-fsn1"), "fence:prod-fsn1"), (EffectKey.Unfence("standby-hel1"), "unfence:standby-hel1"),
            (EffectKey.DnsPoint, "dns:point"), (EffectKey.TtlLower, "ttl:lower"), (EffectKey.TtlRestore, "ttl:restore"),
            (EffectKey.Freeze("prod-fsn1"), "freeze:prod-fsn1"), (EffectKey.Thaw("prod-fsn1"), "thaw:prod-fsn1"),
            (EffectKey.FinalBackup, "backup:final"), (EffectKey.RolesWrite, "roles:write"), (EffectKey.ScaleDown("prod-fsn1"), "scale-down:prod-fsn1"),
            (EffectKey.BackupsStart("standby-hel1"), "backups:start:standby-hel1"), (EffectKey.Teardown("standby-hel1-rehearsal"), "teardown:standby-hel1-rehearsal"),
        ];
        Assert.All(keys, k => Assert.Equal(k.Journaled, k.Key.Value));
        Assert.Equal(keys.Length, keys.Select(k => k.Key).Distinct().Count());
    }
}
