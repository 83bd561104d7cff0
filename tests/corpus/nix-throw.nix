let secret = throw "manifest refuses: vlan not decided yet"; in
{
  network = { gateway = "10.0.0.1"; network_cidr = "10.0.0.0/24"; domain = "x.test"; vlan_tag = secret; };
  services = { };
}
