package cli

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/certs"
)

func newCertsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Manage the gateway's PKI",
	}
	cmd.AddCommand(newCertsInitCmd())
	return cmd
}

func newCertsInitCmd() *cobra.Command {
	var (
		dir, trustDomain, serverName string
		parties, dnsNames, ips       []string
		caValidity, serverValidity   time.Duration
		partyValidity                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a CA, a server certificate and party client certificates",
		Long: `Create a certificate authority (unless --dir already holds ca.crt and ca.key),
a server certificate for the gateway, and a client certificate for each --party,
identified by the URI SAN spiffe://<trust-domain>/party/<party-id>.
Keys are ECDSA P-256, written with mode 0600. Existing files are kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if trustDomain == "" {
				return fmt.Errorf("--trust-domain is required")
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			now := time.Now()
			out := cmd.OutOrStdout()
			ca, created, err := certs.LoadOrCreateAuthority(dir, "Gatehouse CA ("+trustDomain+")", caValidity, now)
			if err != nil {
				return err
			}
			if created {
				fmt.Fprintf(out, "created CA %s\n", filepath.Join(dir, "ca.crt"))
			} else {
				fmt.Fprintf(out, "using the CA in %s\n", filepath.Join(dir, "ca.crt"))
			}
			if !fileExists(filepath.Join(dir, "gateway.crt")) {
				var addrs []net.IP
				for _, s := range ips {
					ip := net.ParseIP(s)
					if ip == nil {
						return fmt.Errorf("--server-ip %q is not an IP address", s)
					}
					addrs = append(addrs, ip)
				}
				leaf, err := ca.IssueServer(serverName, dnsNames, addrs, serverValidity, now)
				if err != nil {
					return err
				}
				if err := certs.WriteLeaf(dir, "gateway", leaf); err != nil {
					return err
				}
				fmt.Fprintf(out, "created server certificate %s for %v %v\n", filepath.Join(dir, "gateway.crt"), dnsNames, ips)
			}
			for _, p := range parties {
				if fileExists(filepath.Join(dir, p+".crt")) {
					continue
				}
				leaf, err := ca.IssueParty(trustDomain, p, partyValidity, now)
				if err != nil {
					return err
				}
				if err := certs.WriteLeaf(dir, p, leaf); err != nil {
					return err
				}
				fmt.Fprintf(out, "created client certificate %s for %s\n", filepath.Join(dir, p+".crt"), leaf.Cert.URIs[0])
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "pki", "output folder")
	f.StringVar(&trustDomain, "trust-domain", "", "SPIFFE trust domain of party identities (required)")
	f.StringSliceVar(&parties, "party", nil, "party id to issue a client certificate for (repeatable)")
	f.StringVar(&serverName, "server-name", "gatehouse", "server certificate common name")
	f.StringSliceVar(&dnsNames, "server-dns", []string{"localhost"}, "server certificate DNS names")
	f.StringSliceVar(&ips, "server-ip", []string{"127.0.0.1"}, "server certificate IP addresses")
	f.DurationVar(&caValidity, "ca-validity", 5*365*24*time.Hour, "CA lifetime")
	f.DurationVar(&serverValidity, "server-validity", 365*24*time.Hour, "server certificate lifetime")
	f.DurationVar(&partyValidity, "party-validity", 90*24*time.Hour, "client certificate lifetime")
	return cmd
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
