package webhooks

import (
	"net/netip"
	"testing"
)

func TestAddrAllowed(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fd00:ec2::254": false, "100.64.0.1": false,
		"0.0.0.0": false, "::": false, "::ffff:10.0.0.1": false, "224.0.0.1": false,
		"8.8.8.8": true, "2606:4700:4700::1111": true, "93.184.216.34": true,
	} {
		if got := addrAllowed(netip.MustParseAddr(addr)); got != want {
			t.Errorf("addrAllowed(%s) = %v, want %v", addr, got, want)
		}
	}
}
