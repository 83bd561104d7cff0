# Typed declarations of the NixOS (nixpkgs nixos/modules) options the NixMox
# modules set or read, with nixpkgs' types and defaults: no freeform
# attribute sets, so a misspelt option, a wrong type or two conflicting
# definitions fail here as they would in nixpkgs.lib.nixosSystem.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  opt = type: default: mkOption { inherit type default; };
  # nixpkgs' systemd unit option values (utils.systemdUtils.unitOptions).
  unitOption = types.oneOf [ types.bool types.int types.str types.path (types.listOf (types.oneOf [ types.bool types.int types.str types.path ])) ];
  nixSetting = types.oneOf [ types.bool types.int types.float types.str types.path types.package (types.listOf (types.oneOf [ types.str types.path types.package types.int ])) ];
in
{
  options = {
    assertions = opt (types.listOf types.unspecified) [ ];
    warnings = opt (types.listOf types.str) [ ];

    boot.isContainer = opt types.bool false;

    networking = {
      hostName = opt (types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$") "nixos";
      domain = opt (types.nullOr types.str) null;
      useDHCP = opt types.bool true;
      useNetworkd = opt types.bool false;
      useHostResolvConf = opt types.bool false;
      nameservers = opt (types.listOf types.str) [ ];
      search = opt (types.listOf types.str) [ ];
      defaultGateway = opt
        (types.nullOr (types.coercedTo types.str (address: { inherit address; }) (types.submodule {
          options = {
            address = mkOption { type = types.str; };
            interface = opt (types.nullOr types.str) null;
            metric = opt (types.nullOr types.int) null;
            source = opt (types.nullOr types.str) null;
          };
        })))
        null;
      interfaces = opt
        (types.attrsOf (types.submodule {
          options.ipv4.addresses = opt
            (types.listOf (types.submodule {
              options = {
                address = mkOption { type = types.str; };
                prefixLength = mkOption { type = types.addCheck types.int (n: n >= 0 && n <= 32); };
              };
            }))
            [ ];
        }))
        { };
      nftables.enable = opt types.bool false;
      firewall = {
        enable = opt types.bool true;
        allowedTCPPorts = opt (types.listOf types.port) [ ];
        allowedUDPPorts = opt (types.listOf types.port) [ ];
        extraCommands = opt types.lines "";
        extraInputRules = opt types.lines "";
      };
    };

    services.openssh = {
      enable = opt types.bool false;
      openFirewall = opt types.bool true;
      startWhenNeeded = opt types.bool false;
      settings = opt
        (types.submodule {
          freeformType = types.attrsOf (types.nullOr (types.oneOf [ types.bool types.int types.str (types.listOf types.str) ]));
          options = {
            PasswordAuthentication = opt types.bool true;
            KbdInteractiveAuthentication = opt types.bool true;
            PermitRootLogin = opt (types.enum [ "yes" "without-password" "prohibit-password" "forced-commands-only" "no" ]) "prohibit-password";
          };
        })
        { };
    };

    users.users = opt
      (types.attrsOf (types.submodule ({ name, ... }: {
        options = {
          name = opt types.str name;
          group = opt types.str "";
          isSystemUser = opt types.bool false;
          extraGroups = opt (types.listOf types.str) [ ];
          openssh.authorizedKeys.keys = opt (types.listOf types.singleLineStr) [ ];
        };
      })))
      { };
    users.groups = opt (types.attrsOf (types.submodule { options.gid = opt (types.nullOr types.int) null; })) { };

    security.pki.certificateFiles = opt (types.listOf types.path) [ ];

    environment = {
      systemPackages = opt (types.listOf types.package) [ ];
      etc = opt
        (types.attrsOf (types.submodule ({ config, ... }: {
          options = {
            enable = opt types.bool true;
            source = mkOption { type = types.path; };
            text = opt (types.nullOr types.lines) null;
            mode = opt types.str "symlink";
          };
        })))
        { };
    };

    nix.settings = opt
      (types.submodule {
        freeformType = types.attrsOf nixSetting;
        options = {
          experimental-features = opt (types.listOf types.str) [ ];
          trusted-users = opt (types.listOf types.str) [ "root" ];
        };
      })
      { };

    time.timeZone = opt (types.nullOr (types.addCheck types.str (s: builtins.match ".* .*" s == null))) null;
    system.stateVersion = mkOption { type = types.str; };

    systemd = {
      tmpfiles.rules = opt (types.listOf types.str) [ ];
      services = opt
        (types.attrsOf (types.submodule {
          options = {
            enable = opt types.bool true;
            description = opt types.singleLineStr "";
            wantedBy = opt (types.listOf types.str) [ ];
            requiredBy = opt (types.listOf types.str) [ ];
            requires = opt (types.listOf types.str) [ ];
            wants = opt (types.listOf types.str) [ ];
            after = opt (types.listOf types.str) [ ];
            before = opt (types.listOf types.str) [ ];
            path = opt (types.listOf (types.oneOf [ types.package types.str ])) [ ];
            environment = opt (types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]))) { };
            restartTriggers = opt (types.listOf types.unspecified) [ ];
            serviceConfig = opt (types.attrsOf unitOption) { };
            unitConfig = opt (types.attrsOf unitOption) { };
            script = opt types.lines "";
            preStart = opt types.lines "";
            enableStrictShellChecks = opt types.bool false;
          };
        }))
        { };
    };
  };

  # Definitions of nixpkgs' own that NixMox's meet.
  config.users.users.root = { group = "root"; };
}
