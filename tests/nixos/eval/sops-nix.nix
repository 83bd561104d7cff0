# Typed declarations of sops-nix's options (Mic92/sops-nix modules/sops and
# modules/sops/templates), with its evaluation-time behaviour that NixMox
# meets: validateSopsFiles (default true) hashes every sopsFile, so a missing
# file fails evaluation; a secret without sopsFile falls back to
# defaultSopsFile, which has no default; owner/group must be users that
# exist; templates may use only placeholders of declared secrets.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.sops;
  users = config.users.users;

  secretType = types.submodule ({ config, name, ... }: {
    config = {
      sopsFile = lib.mkOptionDefault cfg.defaultSopsFile;
      sopsFileHash = lib.mkOptionDefault
        (lib.optionalString cfg.validateSopsFiles (builtins.hashFile "sha256" config.sopsFile));
    };
    options = {
      name = mkOption { type = types.str; default = name; };
      key = mkOption { type = types.str; default = name; };
      path = mkOption { type = types.str; default = "/run/secrets/${config.name}"; };
      format = mkOption { type = types.enum [ "yaml" "json" "binary" "dotenv" "ini" ]; default = cfg.defaultSopsFormat; };
      mode = mkOption { type = types.str; default = "0400"; };
      owner = mkOption { type = types.nullOr types.str; default = null; };
      uid = mkOption { type = types.nullOr types.int; default = 0; };
      group = mkOption {
        type = types.nullOr types.str;
        default = if config.owner != null then users.${config.owner}.group else null;
      };
      gid = mkOption { type = types.nullOr types.int; default = 0; };
      sopsFile = mkOption { type = types.path; };
      sopsFileHash = mkOption { type = types.str; readOnly = true; };
      restartUnits = mkOption { type = types.listOf types.str; default = [ ]; };
      reloadUnits = mkOption { type = types.listOf types.str; default = [ ]; };
      neededForUsers = mkOption { type = types.bool; default = false; };
    };
  });

  templateType = types.submodule ({ config, name, ... }: {
    options = {
      name = mkOption { type = types.singleLineStr; default = name; };
      path = mkOption { type = types.singleLineStr; default = "/run/secrets-rendered/${config.name}"; };
      content = mkOption { type = types.lines; default = ""; };
      mode = mkOption { type = types.singleLineStr; default = "0400"; };
      owner = mkOption { type = types.singleLineStr; default = "root"; };
      group = mkOption { type = types.singleLineStr; default = users.${config.owner}.group; };
      file = mkOption { type = types.path; default = pkgs.writeText config.name config.content; };
      restartUnits = mkOption { type = types.listOf types.str; default = [ ]; };
      reloadUnits = mkOption { type = types.listOf types.str; default = [ ]; };
    };
  });
in
{
  options.sops = {
    secrets = mkOption { type = types.attrsOf secretType; default = { }; };
    templates = mkOption { type = types.attrsOf templateType; default = { }; };
    placeholder = mkOption { type = types.attrsOf types.str; default = { }; };
    defaultSopsFile = mkOption { type = types.path; };
    defaultSopsFormat = mkOption { type = types.str; default = "yaml"; };
    validateSopsFiles = mkOption { type = types.bool; default = true; };
    age = {
      keyFile = mkOption { type = types.nullOr types.str; default = null; };
      sshKeyPaths = mkOption { type = types.listOf types.path; default = [ ]; };
    };
  };

  config = lib.mkMerge [
    (lib.mkIf (cfg.secrets != { }) {
      assertions = [{
        assertion = cfg.age.keyFile != null || cfg.age.sshKeyPaths != [ ];
        message = "No key source configured for sops. Either set services.openssh.enable or set sops.age.keyFile or sops.gnupg.home";
      }];
    })
    (lib.mkIf (cfg.templates != { }) {
      sops.placeholder = lib.mapAttrs
        (name: _: lib.mkDefault "<SOPS:${builtins.hashString "sha256" name}:PLACEHOLDER>")
        cfg.secrets;
    })
  ];
}
