# What every NixMox host has: its identity and network from the manifest
# (nixmox.hosts.hosts.<host>), the firewall, SSH for the console, sops-nix
# with the secrets this host must decrypt, and the Proxmox LXC base.
{ config, lib, pkgs, modulesPath, nixmox, ... }:

let
  cfg = config.nixmox;
  host = nixmox.hosts.hosts.${cfg.host} or (throw
    "nixmox.host = \"${cfg.host}\" is not an enabled service of the manifest (enabled: ${lib.concatStringsSep ", " nixmox.hosts.names})");
  secrets = nixmox.secrets.byHost.${cfg.host} or { };
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
      default = null;
      example = lib.literalExpression "../ca/nixmox-internal-ca.crt";
      description = "The internal CA's root certificate, trusted system-wide when set.";
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
      interfaces.eth0.ipv4.addresses = [{ address = host.ip; prefixLength = host.prefixLength; }];
      defaultGateway = { address = host.gateway; interface = "eth0"; };
      nameservers = host.nameservers;
      search = host.search;
      firewall = {
        enable = true;
        allowedTCPPorts = host.firewall.allowedTCPPorts;
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
          sopsFile = cfg.secretsRoot + "/${s.sopsFile}";
          key = s.key;
        })
        secrets;
    };

    security.pki.certificateFiles = lib.optional (cfg.caCertificate != null) cfg.caCertificate;

    # The console's health probes (curl) and log tailing (journalctl).
    environment.systemPackages = [ pkgs.curl ];

    nix.settings = {
      experimental-features = [ "nix-command" "flakes" ];
      trusted-users = [ "root" ];
    };

    time.timeZone = lib.mkDefault "UTC";
    system.stateVersion = "25.05";
  };
}
