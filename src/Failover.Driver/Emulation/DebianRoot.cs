using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Failover.Driver.Local;
using Serilog;

namespace Failover.Driver.Emulation;

/// <summary>
/// The cached Debian 12 root every emulated server boots from: built once per package list with
/// debootstrap, kept under <see cref="DefaultCache"/>/&lt;hash of the package list&gt;/root, and rebuilt when
/// its completion marker (written last) is missing. Servers never write to it (see <see cref="ServerCopy"/>).
/// </summary>
public static class DebianRoot
{
    public const string DefaultCache = "/var/cache/failover/roots";
    public const string Suite = "bookworm";
    public const string Mirror = "http://deb.debian.org/debian";

    /// <summary>
    /// What every server needs to boot its user data: systemd as PID 1, cloud-init, a generated locale.
    /// python3-cffi-backend is named because debootstrap does not resolve virtual packages
    /// (python3-cryptography, which cloud-init needs, depends on python3-cffi-backend-api-min).
    /// </summary>
    public static readonly IReadOnlyList<string> BootPackages = ["systemd", "systemd-sysv", "dbus", "cloud-init", "locales", "python3-cffi-backend"];

    /// <summary>
    /// The packages the rendered user data installs (BootstrapScript: PostgreSQL, restic, jq, python3; nftables and
    /// iproute2 for the metadata guard and the site address). A server has no route to the registry, so the root
    /// carries them, with their dependencies and recommends as the user data's `apt-get install` resolves them, in a
    /// local archive apt reads instead of the registry, and unpacked but not configured (`dpkg --unpack`): the user
    /// data's `apt-get install` then configures every one of them for real at boot (postinst scripts included: the
    /// postgres user, PostgreSQL's cluster created where the user data has mounted the data volume by then, the units
    /// enabled), as on a cloud image; only the unpacking, which changes nothing a server decides, is done once here
    /// (it was about half of a data server's boot). A package missing here fails with apt's own line naming it.
    /// </summary>
    public static readonly IReadOnlyList<string> UserDataPackages = ["postgresql", "restic", "jq", "python3", "nftables", "iproute2"];

    /// <summary>Where the offline apt archive lives inside the root: the packages above, and what they need.</summary>
    public const string OfflineArchive = "/var/lib/failover-emulation/apt";

    /// <summary>Bumped when the steps after debootstrap change, so an old cached root is rebuilt.</summary>
    private const string RecipeVersion = "3";

    /// <summary>The cached root for <paramref name="packages"/>, built first when missing or incomplete; returns its directory.</summary>
    public static async Task<string> EnsureAsync(string cacheDirectory, IReadOnlyList<string> packages, ILogger log, CancellationToken cancellation)
    {
        var archived = packages.Distinct().Order(StringComparer.Ordinal).ToList();
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            $"{Suite}\n{RecipeVersion}\n{string.Join(',', BootPackages)}\n{string.Join(',', archived)}")))[..16];
        var home = Path.Combine(cacheDirectory, key);
        var root = Path.Combine(home, "root");
        var marker = Path.Combine(home, "complete");
        if (File.Exists(marker) && Directory.Exists(root)) return root;

        Directory.CreateDirectory(home);
        // Two drills (or two tests) asking at once: one builds, the other waits and then uses it.
        await using var gate = await LockAsync(Path.Combine(home, "lock"), cancellation);
        if (File.Exists(marker) && Directory.Exists(root)) return root;

        await DebianPackages.EnsureAsync(HostTools, m => log.Information("{Progress}", m.Trim()), cancellation);
        var partial = Path.Combine(home, "root.partial");
        await RemoveAsync(partial);
        await RemoveAsync(root);
        var clock = Stopwatch.StartNew();
        log.Information("Building the Debian {Suite} root for emulated servers in {Root}, with {Packages} in its offline archive (debootstrap, a few minutes, once)",
            Suite, root, string.Join(' ', archived));
        await HostCommand.RunAsync("debootstrap",
            ["--variant=minbase", $"--include={string.Join(',', BootPackages)}", Suite, partial, Mirror], cancellation);
        var debootstrapped = clock.Elapsed;
        await ConfigureAsync(partial, archived, cancellation);
        Directory.Move(partial, root);
        // The build's parts, for whoever plans around it (CI builds it on a fresh machine): debootstrap, then the archive.
        var parts = $"debootstrap {debootstrapped.TotalSeconds:F0} s, locale, archive and unpack {(clock.Elapsed - debootstrapped).TotalSeconds:F0} s";
        await File.WriteAllTextAsync(marker, $"{Suite} {string.Join(' ', BootPackages)}\narchive: {string.Join(' ', archived)}\nbuilt {DateTimeOffset.UtcNow:O} in {clock.Elapsed.TotalSeconds:F0} s ({parts})\n", cancellation);
        log.Information("Built the Debian root {Root} in {Seconds:F0} s ({Parts})", root, clock.Elapsed.TotalSeconds, parts);
        return root;
    }

    /// <summary>The host programs the emulation runs, installed with apt when missing.</summary>
    public static readonly IReadOnlyList<RequiredProgram> HostTools =
    [
        new("debootstrap", "debootstrap", ["/usr/sbin/debootstrap"]),
        new("systemd-nspawn", "systemd-container", ["/usr/bin/systemd-nspawn"]),
    ];

    private static async Task ConfigureAsync(string root, IReadOnlyList<string> archived, CancellationToken cancellation)
    {
        // cloud-init's locale module sets en_US.UTF-8 and reports an error when it was never generated.
        await File.WriteAllTextAsync(Path.Combine(root, "etc/locale.gen"), "en_US.UTF-8 UTF-8\n", cancellation);
        await HostCommand.RunAsync("chroot", [root, "locale-gen"], cancellation);
        await File.WriteAllTextAsync(Path.Combine(root, "etc/default/locale"), "LANG=en_US.UTF-8\n", cancellation);

        // Only the NoCloud seed exists here, and the network is set up by the emulation (no DHCP on a veth).
        await File.WriteAllTextAsync(Path.Combine(root, "etc/cloud/cloud.cfg.d/90-failover-emulation.cfg"),
            "# Written by failover's server emulation.\ndatasource_list: [ NoCloud, None ]\nnetwork: {config: disabled}\n", cancellation);

        // The user data's packages, downloaded (with what they depend on and recommend, against this root) into a
        // flat archive with its Packages index; then apt reads only that archive.
        await HostCommand.RunAsync("chroot", [root, "/bin/bash", "-euc", ArchiveScript, "archive", OfflineArchive, .. archived], cancellation);
        await File.WriteAllTextAsync(Path.Combine(root, "etc/apt/sources.list"), $"deb [trusted=yes] file:{OfflineArchive} ./\n", cancellation);
        foreach (var f in Directory.GetFiles(Path.Combine(root, "etc/apt/sources.list.d"))) File.Delete(f);
        await HostCommand.RunAsync("chroot", [root, "/bin/bash", "-euc", "rm -rf /var/lib/apt/lists/* && apt-get update -q"], cancellation);
        // Unpacked, not configured: dpkg's status says "unpacked", so the user data's `apt-get install` configures them at boot.
        await HostCommand.RunAsync("chroot", [root, "/bin/bash", "-euc", UnpackScript, "unpack", OfflineArchive], cancellation);

        // A server gets its own machine id on first boot, as a cloud image does.
        await File.WriteAllTextAsync(Path.Combine(root, "etc/machine-id"), "", cancellation);
    }

    /// <summary>Run in the root ($1 the archive, then the packages): download, then index as dpkg-scanpackages would.</summary>
    private const string ArchiveScript = """
        dir=$1; shift
        apt-get clean  # debootstrap leaves the base system's packages in the cache: archive only what the user data adds
        apt-get update -q
        apt-get install -y -q --download-only "$@"
        mkdir -p "$dir"
        mv /var/cache/apt/archives/*.deb "$dir"/
        cd "$dir"
        for deb in *.deb; do
          dpkg-deb -f "$deb"
          printf 'Filename: ./%s\nSize: %s\nSHA256: %s\n\n' "$deb" "$(stat -c %s "$deb")" "$(sha256sum "$deb" | cut -d ' ' -f 1)"
        done > Packages
        """;

    /// <summary>Run in the root ($1 the archive): every package of it unpacked (the archive holds only packages the root lacks), none configured.</summary>
    private const string UnpackScript = """
        cd "$1"
        dpkg --unpack ./*.deb
        """;

    private static async Task RemoveAsync(string directory)
    {
        if (Directory.Exists(directory)) await HostCommand.RunAsync("rm", ["-rf", "--one-file-system", directory], CancellationToken.None);
    }

    private static async Task<FileStream> LockAsync(string path, CancellationToken cancellation)
    {
        var deadline = DateTime.UtcNow.AddMinutes(20);
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (DateTime.UtcNow < deadline) { await Task.Delay(2000, cancellation); }
        }
    }
}
