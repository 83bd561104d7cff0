# Jellyfin reads the media library from a Proxmox mount point (mp0 in
# terraform/jellyfin) and may use the host's GPU for transcoding.
{ ... }:
{
  users.users.jellyfin.extraGroups = [ "video" "render" ];
  systemd.tmpfiles.rules = [ "d /srv/media 0755 root root -" ];
  services.jellyfin.dataDir = "/var/lib/jellyfin";
}
