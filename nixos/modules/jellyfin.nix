# Jellyfin media server; its own user accounts (TV apps cannot do forward
# auth), port from the manifest's proxy upstream (Jellyfin's default 8096).
{ config, lib, nixmox, ... }:

let
  cfg = config.services.nixmox.jellyfin;
in
{
  options.services.nixmox.jellyfin = import ./service-options.nix {
    inherit lib config;
    name = "jellyfin";
    what = "Jellyfin";
  };

  config = lib.mkIf cfg.enable {
    services.jellyfin = {
      enable = true;
      # Ports are opened from the manifest (nixos/lib/hosts.nix).
      openFirewall = false;
    };
  };
}
