# A stand-in for nixpkgs.lib.nixosSystem built on nixpkgs' REAL module system
# (lib.evalModules from the nixpkgs lib at `nixpkgsLib`) with typed
# declarations of every nixpkgs, sops-nix and authentik-nix option the
# NixMox modules touch (./nixos.nix, ./services.nix; the caller brings
# ./sops-nix.nix and ./authentik-nix.nix, as the flake brings the real
# ones) and the nixpkgs definitions that meet NixMox's
# (./modules/virtualisation/proxmox-lxc.nix, the users and environments in
# ./services.nix). Sops validation is on.
#
# `config.system.build.toplevel` is derivation-shaped (for `nix flake check`)
# and forces what a build would: no failed assertion, and `dump`, every
# option value merged and type-checked.
{ nixpkgsLib, secretsRoot, caCertificate ? null }:
{ system ? "x86_64-linux", modules, specialArgs ? { } }:
let
  lib = import nixpkgsLib;
  pkgs = import ./pkgs.nix { inherit lib; };

  # A disabled service's options are never read by nixpkgs (some have no
  # default, as there): print only that it is off, and the services nested
  # in it (services.prometheus.alertmanager on a host without Prometheus).
  prune = opts: v:
    if lib.isOption opts || !(builtins.isAttrs v) then v
    else if opts ? enable && lib.isOption opts.enable && v.enable == false then
      { enable = false; }
      // builtins.mapAttrs (n: _: prune opts.${n} v.${n})
        (lib.filterAttrs (n: o: n != "enable" && !(lib.isOption o) && builtins.isAttrs o && o ? enable) opts)
    else builtins.mapAttrs (n: x: prune (opts.${n} or { }) x) v;

  harness = { config, options, ... }: {
    options.system.build.toplevel = lib.mkOption { type = lib.types.unspecified; };
    config = {
      _module.args.pkgs = pkgs;
      nixmox = {
        secretsRoot = /. + secretsRoot;
      } // lib.optionalAttrs (caCertificate != null) { inherit caCertificate; };
      system.build.toplevel =
        let
          failed = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
          dump = removeAttrs config [ "_module" "system" ] // {
            # defaultSopsFile has no default (as in sops-nix): it is only read
            # for a secret without a sopsFile, which forcing sops.secrets does.
            sops = removeAttrs config.sops [ "defaultSopsFile" ];
            services = prune options.services config.services;
          };
        in
        if failed != [ ] then throw "failed assertions on ${config.nixmox.host}:\n- ${lib.concatStringsSep "\n- " failed}"
        else {
          # `nix flake check` reads only `type`: checking forces everything.
          type = builtins.seq (builtins.toJSON dump) "derivation";
          name = "nixos-system-${config.networking.hostName}";
          outPath = builtins.seq (builtins.toJSON dump) "/nix/store/00000000000000000000000000000000-nixos-system";
          drvPath = "/nix/store/00000000000000000000000000000000-nixos-system.drv";
          inherit dump system;
        };
    };
  };
in
lib.evalModules {
  specialArgs = { modulesPath = ./modules; } // specialArgs;
  modules = modules ++ [ ./nixos.nix ./services.nix harness ];
}
