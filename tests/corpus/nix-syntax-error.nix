{
  network = { gateway = "10.0.0.1"; network_cidr = "10.0.0.0/24"; domain = "x.test"; };
  services = { web = { ip = "10.0.0.2" hostname = "web.x.test"; }; };
}
