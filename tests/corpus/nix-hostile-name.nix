{
  network = { gateway = "10.0.0.1"; network_cidr = "10.0.0.0/24"; domain = "x.test"; };
  services = {
    "$(touch /tmp/nixmox-pwned)" = { ip = "10.0.0.2"; hostname = "web.x.test"; };
    ok = { ip = "10.0.0.3"; hostname = "ok.x.test"; depends_on = [ "$(touch /tmp/nixmox-pwned)" ]; };
  };
}
