# Builder of a nixmox lab system (run by Nix as `/bin/sh -e build-system.sh`;
# inputs come from the derivation's environment, see systems.nix).
mkdir -p "$out/bin" "$out/units"
cp "$switchScript" "$out/bin/switch-to-configuration"
chmod 555 "$out/bin/switch-to-configuration"
printf '%s\n' "$host" > "$out/host"
printf '%s\n' "$label" > "$out/nixos-version"
printf '%s\n' "$serviceJSON" > "$out/service.json"
# "ssh": the units are healthy; activating this system stops the host's sshd.
if [ "$broken" = ssh ]; then
    echo "activating this system stops the host's sshd (lab break knob)" > "$out/stops-sshd"
    broken=""
fi
printf '%s\n' "$unitLines" | while read -r unit ports; do
    [ -n "$unit" ] || continue
    args=""
    for p in $ports; do args="$args --port $p"; done
    [ -z "$broken" ] || args="$args --broken $broken"
    {
        echo '#!/bin/sh'
        echo "# ExecStart of unit $unit on lab host $host (system $label)."
        echo "exec \"\${NIXMOX_LAB_DIR:?not on a nixmox lab host}/bin/nixmox\" lab serve --host $host --unit $unit --label $label$args"
    } > "$out/units/$unit"
    chmod 555 "$out/units/$unit"
done
