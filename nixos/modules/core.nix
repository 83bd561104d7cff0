# What every NixMox host has: its identity and network from the manifest
# (nixmox.hosts.hosts.<host>), the firewall, SSH for the console, sops-nix
# with the secrets this host must decrypt, the internal CA, and the Proxmox
# LXC base.
{ config, lib, pkgs, modulesPath, nixmox, ... }:

let
  cfg = config.nixmox;
  host = nixmox.hosts.hosts.${cfg.host} or (throw
    "nixmox.host = \"${cfg.host}\" is not an enabled service of the manifest (enabled: ${lib.concatStringsSep ", " nixmox.hosts.names})");
  secrets = nixmox.secrets.byHost.${cfg.host} or { };
  restricted = host.firewall.restrictedTCPPorts;

  # sops-nix reads (hashes) every sopsFile at evaluation time: a missing one
  # would fail with a bare "No such file"; say what to do instead.
  sopsFileOf = s:
    let f = cfg.secretsRoot + "/${s.sopsFile}"; in
    if builtins.pathExists f then f
    else throw ("nixmox: ${s.sopsFile} does not exist (in ${toString cfg.secretsRoot}), so secret ${s.name} of host ${cfg.host} cannot be decrypted. "
      + "First run: create every SOPS file the manifest needs (README, nixos/: First run: secrets; "
      + "nix-instantiate --eval --strict --json nixos/secrets-plan.nix -A steps), then `git add` them.");

  defaultCa = ../ca/root.crt;
in
{
  imports = [ (modulesPath + "/virtualisation/proxmox-lxc.nix") ];

  options.nixmox = {
    host = lib.mkOption {
      type = lib.types.str;
      description = "The manifest service this machine is (a key of core_services or services).";
    };
    hostInfo = lib.mkOption {
      type = lib.types.attrs;
      readOnly = true;
      default = host;
      description = "This host as nixos/lib/hosts.nix describes it.";
    };
    adminKeys = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      description = "SSH public keys allowed to log in as root (the NixMox console deploys over SSH).";
    };
    caCertificate = lib.mkOption {
      type = lib.types.nullOr lib.types.path;
      default = if builtins.pathExists defaultCa then defaultCa else null;
      defaultText = lib.literalExpression "nixos/ca/root.crt when it exists, else null";
      description = ''
        The internal CA's root certificate, trusted system-wide. Required when
        any service of the manifest uses OIDC: every back-channel call (token,
        userinfo, JWKS) goes to the provider's site, whose certificate this CA signs.
      '';
    };
    secretsRoot = lib.mkOption {
      type = lib.types.path;
      default = ./..;
      description = "Directory the manifest's SOPS paths (secrets/<service>.yaml) are relative to.";
    };
  };

  config = {
    # Proxmox passes no network config: the manifest is the truth.
    proxmoxLXC = {
      manageNetwork = true;
      manageHostName = true;
    };

    networking = {
      hostName = host.hostName;
      domain = host.domain;
      useDHCP = false;
      # The container's /etc/resolv.conf is ours, not Proxmox's: without this
      # (container-config defaults it to true) `nameservers` is ignored.
      useHostResolvConf = false;
      interfaces.eth0.ipv4.addresses = [{ address = host.ip; prefixLength = host.prefixLength; }];
      defaultGateway = { address = host.gateway; interface = "eth0"; };
      nameservers = host.nameservers;
      search = host.search;
      # Open to the network: allowedTCPPorts. Each restricted port (a proxied
      # upstream, the database) only from its listed addresses; localhost
      # (the console's health probes) is always accepted by the firewall.
      firewall = {
        enable = true;
        allowedTCPPorts = host.firewall.allowedTCPPorts;
        extraCommands = lib.mkIf (!config.networking.nftables.enable) (lib.concatMapStrings
          (r: lib.concatMapStrings
            (ip: "iptables -A nixos-fw -p tcp -s ${ip} --dport ${toString r.port} -j nixos-fw-accept\n")
            r.from)
          restricted);
        extraInputRules = lib.mkIf config.networking.nftables.enable (lib.concatMapStrings
          (r: lib.optionalString (r.from != [ ])
            "ip saddr { ${lib.concatStringsSep ", " r.from} } tcp dport ${toString r.port} accept\n")
          restricted);
      };
    };

    services.openssh = {
      enable = true;
      openFirewall = true;
      settings = {
        PasswordAuthentication = false;
        KbdInteractiveAuthentication = false;
        PermitRootLogin = "prohibit-password";
      };
    };
    users.users.root.openssh.authorizedKeys.keys = cfg.adminKeys;

    # Every secret this host needs, by the path the manifest-derived lib gives;
    # service modules add owner/group/restartUnits to their own.
    sops = {
      age.sshKeyPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
      secrets = lib.mapAttrs
        (_: s: {
          sopsFile = sopsFileOf s;
          key = s.key;
        })
        secrets;
    };

    security.pki.certificateFiles = lib.optional (cfg.caCertificate != null) cfg.caCertificate;

    assertions = [{
      assertion = cfg.caCertificate != null || nixmox.oidc.clients == { };
      message = "nixmox.caCertificate is not set, but ${lib.concatStringsSep ", " (lib.attrNames nixmox.oidc.clients)} use OIDC: "
        + "their calls to the provider need the internal CA. Put its root certificate at nixos/ca/root.crt (README, nixos/) or set nixmox.caCertificate.";
    }];

    # The console's health probes (curl) and log tailing (journalctl).
    environment.systemPackages = [ pkgs.curl ];

    nix.settings = {
      experimental-features = [ "nix-command" "flakes" ];
      trusted-users = [ "root" ];
    };

    time.timeZone = lib.mkDefault "UTC";
    system.stateVersion = "26.05";
  };
}
