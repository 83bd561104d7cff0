# The lab's "NixOS systems": one small store path per enabled manifest host,
# built with builtins.derivation only (no nixpkgs; the builder is /bin/sh), so
# `nix-build` is the real Nix and each host's generations are real profiles.
#
#   nix-build systems.nix --no-out-link \
#     --argstr manifestFile /abs/manifest.nix   # .nix or .json, as `nixmox check` reads it
#     --argstr labDir /abs/lab/dir               # break knobs: labDir/faults/broken/<service>
#     [--argstr salt STRING]                     # another salt builds another system (a new generation)
#     -A <service> [-A <service> ...]
#
# A system holds:
#   bin/switch-to-configuration   switch|test: stop units this system no longer has, (re)start its
#                                 units, exit 4 when a unit failed (as NixOS does)
#   units/<unit>                  the unit's ExecStart: `nixmox lab serve ...` on the unit's ports
#   host, service.json, nixos-version
# It depends only on the manifest entry of its service, the salt and the break knob, so an unchanged
# manifest entry rebuilds to the same store path (and `nix-env --set` then adds no generation).
{ manifestFile, labDir ? "", salt ? "" }:
assert builtins.match "[A-Za-z0-9._+-]*" salt != null
  || throw "systems.nix: salt must be letters, digits and . _ + - (got ${builtins.toJSON salt})";
let
  inherit (builtins) attrNames filter elemAt foldl' isList isString length match split
    concatStringsSep head tail listToAttrs pathExists readFile replaceStrings toJSON fromJSON;

  file = /. + manifestFile;
  manifest =
    if match ".*\\.json" manifestFile != null then fromJSON (readFile file) else import file;
  all = (manifest.core_services or { }) // (manifest.services or { });
  enabled = filter (n: all.${n}.enable or true) (attrNames all);

  unique = foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];
  words = s: filter (w: isString w && w != "") (split "[ \t\n]+" s);
  isUnit = w: match "[A-Za-z0-9:_.@-]+" w != null && match "-.*" w == null;
  stripService = u: let m = match "(.*)\\.service" u; in if m == null then u else head m;

  # Units a shell command checks with `systemctl is-active [opts] UNIT...`.
  activeUnits = cmd:
    (foldl'
      (st: w:
        if w == "is-active" then st // { on = true; }
        else if !st.on then st
        else if match "(;|&&|\\|\\||\\||\\)).*" w != null then st // { on = false; }
        else if match "-.*" w != null then st
        else if isUnit w then st // { found = st.found ++ [ (stripService w) ]; }
        else st // { on = false; })
      { on = false; found = [ ]; }
      (words cmd)).found;

  # Local TCP ports a shell command probes (http://localhost:PORT/..., 127.0.0.1:PORT).
  probedPorts = cmd:
    map (m: if elemAt m 3 == null then (if elemAt m 0 == "https" then 443 else 80) else fromJSON (elemAt m 3))
      (filter isList (split "(https?)://(localhost|127\\.0\\.0\\.1)(:([0-9]+))?" cmd));

  hostOf = name:
    let
      s = all.${name};
      iface = s.interface or { };
      health = iface.health or { };
      healthCmds = filter isString [ (health.startup or null) (health.liveness or null) ];
      checked = unique (builtins.concatMap activeUnits healthCmds);
      primary = iface.logs.unit or (if checked != [ ] then head checked else name);
      units = unique ([ primary ] ++ checked);
      upstream = iface.proxy.upstream or null;
      up = if isString upstream then match "(.*):([0-9]+)" upstream else null;
      ports = unique ((s.ports or [ ])
        ++ (if (iface.db.mode or "") == "standalone" && (iface.db.port or null) != null then [ iface.db.port ] else [ ])
        ++ (if up != null && elemAt up 0 == (s.ip or "") then [ (fromJSON (elemAt up 1)) ] else [ ])
        ++ builtins.concatMap probedPorts healthCmds);
      knob = /. + "${labDir}/faults/broken/${name}";
      brokenText = if labDir != "" && pathExists knob then replaceStrings [ "\n" " " ] [ "" "" ] (readFile knob) else "";
      # The knob's text picks how the unit is unhealthy: "http500" (runs, answers 500), "ssh" (the unit is
      # fine, but activating this system stops the host's sshd) or "exit" (default: dies at start, so
      # `systemctl is-active` fails and switch-to-configuration exits 4).
      broken = if labDir != "" && pathExists knob then (if brokenText == "http500" || brokenText == "ssh" then brokenText else "exit") else "";
      label = "lab" + (if salt != "" then "-" + salt else "") + (if broken != "" then "-broken-" + broken else "");
      # One line per unit: "<unit> <port>..." (only the primary unit listens).
      unitLines = concatStringsSep "\n" (map (u: concatStringsSep " " ([ u ] ++ (if u == primary then map toString ports else [ ]))) units);
    in
    builtins.derivation {
      name = "nixmox-lab-system-${name}";
      system = builtins.currentSystem;
      builder = "/bin/sh";
      args = [ "-e" ./build-system.sh ];
      PATH = "/usr/bin:/bin";
      host = name;
      inherit unitLines broken label salt;
      serviceJSON = toJSON s;
      switchScript = ./switch-to-configuration.sh;
    };
in
listToAttrs (map (n: { name = n; value = hostOf n; }) enabled)
