# The parts of nixpkgs' virtualisation/proxmox-lxc.nix (and the
# container-config.nix it brings in through boot.isContainer) that meet the
# NixMox modules: the proxmoxLXC options, and the container default that
# leaves networking.useHostResolvConf true unless a module says otherwise.
{ config, lib, ... }:
let
  cfg = config.proxmoxLXC;
in
{
  options.proxmoxLXC = {
    privileged = lib.mkOption { type = lib.types.bool; default = false; };
    manageNetwork = lib.mkOption { type = lib.types.bool; default = false; };
    manageHostName = lib.mkOption { type = lib.types.bool; default = false; };
  };

  config = lib.mkMerge [
    {
      boot.isContainer = true;
      networking = lib.mkIf (!cfg.manageNetwork) {
        useDHCP = false;
        useHostResolvConf = false;
        useNetworkd = true;
        hostName = lib.mkIf (!cfg.manageHostName) (lib.mkForce "");
      };
      services.openssh.enable = lib.mkDefault true;
      services.openssh.startWhenNeeded = lib.mkDefault true;
    }
    # container-config.nix
    (lib.mkIf config.boot.isContainer {
      networking.useHostResolvConf = lib.mkDefault true;
    })
  ];
}
