package cli

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/certs"
)

// defaultPKIDir is where the certs commands keep the CA unless --dir says
// otherwise: under the data folder (var/, git-ignored), the PKI make run
// uses.
var defaultPKIDir = filepath.Join("var", "pki")

func newCertsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Manage the gateway's PKI",
	}
	cmd.AddCommand(newCertsInitCmd(), newCertsIssueCmd(), newCertsRevokeCmd(), newCertsCRLCmd(), newCertsInspectCmd())
	return cmd
}

func newCertsIssueCmd() *cobra.Command {
	var dir, csrFile, party, trustDomain, crlURL, out string
	var validity time.Duration
	cmd := &cobra.Command{
		Use:   "issue --csr FILE --party ID --trust-domain TD",
		Short: "Sign a partner's certificate request for a party",
		Long: `Sign a certificate signing request with the CA in --dir. The certificate names
the party by its only SAN, spiffe://<trust-domain>/party/<id>; its use is
client authentication; its lifetime is at most 397 days. Keys must be ECDSA
P-256 or P-384, or RSA of at least 3072 bits; the request's own signature is
checked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if csrFile == "" || party == "" || trustDomain == "" {
				return fmt.Errorf("--csr, --party and --trust-domain are required")
			}
			if out == "" {
				out = filepath.Join(dir, party+".crt")
			}
			if fileExists(out) {
				// The certificate there may be in use with its own key.
				return fmt.Errorf("%s exists: name another file with -o (or remove it first)", out)
			}
			ca, err := certs.LoadAuthority(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
			if err != nil {
				return err
			}
			csr, err := os.ReadFile(csrFile)
			if err != nil {
				return err
			}
			cert, err := ca.IssueFromCSR(csr, trustDomain, party, validity, crlURL, time.Now())
			if err != nil {
				return err
			}
			if err := certs.WriteCertificate(out, cert); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "issued %s for %s: serial %x, expires %s\n", out, cert.URIs[0], cert.SerialNumber, cert.NotAfter.Format(time.RFC3339))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", defaultPKIDir, "folder of the CA (ca.crt, ca.key)")
	f.StringVar(&csrFile, "csr", "", "the partner's certificate signing request (PEM)")
	f.StringVar(&party, "party", "", "the party id the certificate identifies")
	f.StringVar(&trustDomain, "trust-domain", "", "SPIFFE trust domain")
	f.DurationVar(&validity, "validity", 90*24*time.Hour, "lifetime (at most 397 days)")
	f.StringVar(&crlURL, "crl-url", "", "CRL distribution point to name in the certificate, e.g. https://gateway:8444/pki/crl")
	f.StringVarP(&out, "out", "o", "", "where to write the certificate (default: DIR/PARTY.crt)")
	return cmd
}

func newCertsRevokeCmd() *cobra.Command {
	var dir, serial, certFile, reason string
	var validity time.Duration
	cmd := &cobra.Command{
		Use:   "revoke (--serial HEX | --cert FILE) --reason REASON",
		Short: "Revoke a certificate: add it to the CA's CRL and publish the CRL",
		Long: `Add a certificate to the revocation register of the CA in --dir and publish a
newly signed CRL (DIR/ca.crl). A gateway that checks that CRL (tls.crl_files)
reloads it within tls.reload_interval and refuses the certificate from then on,
resumed sessions included.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			subject := ""
			if certFile != "" {
				c, err := certs.ReadCertificate(certFile)
				if err != nil {
					return err
				}
				serial, subject = fmt.Sprintf("%x", c.SerialNumber), c.Subject.String()
			}
			if serial == "" {
				return fmt.Errorf("--serial or --cert is required")
			}
			ca, err := certs.LoadAuthority(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
			if err != nil {
				return err
			}
			reg, err := certs.LoadRegister(dir)
			if err != nil {
				return err
			}
			now := time.Now()
			if err := reg.Revoke(serial, reason, subject, now); err != nil {
				return err
			}
			if err := reg.Publish(dir, ca, now, validity); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked serial %s (%s); published CRL number %d to %s\n", serial, reason, reg.Number, certs.CRLPath(dir))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", defaultPKIDir, "folder of the CA")
	f.StringVar(&serial, "serial", "", "serial number (hex) of the certificate to revoke")
	f.StringVar(&certFile, "cert", "", "the certificate to revoke (PEM)")
	f.StringVar(&reason, "reason", "unspecified", "key-compromise, affiliation-changed, superseded, cessation-of-operation, privilege-withdrawn, …")
	f.DurationVar(&validity, "crl-validity", 7*24*time.Hour, "how long the new CRL stays current")
	return cmd
}

func newCertsCRLCmd() *cobra.Command {
	var dir string
	var validity time.Duration
	cmd := &cobra.Command{
		Use:   "crl",
		Short: "Re-sign and publish the CA's CRL (run before it expires, e.g. daily)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ca, err := certs.LoadAuthority(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
			if err != nil {
				return err
			}
			reg, err := certs.LoadRegister(dir)
			if err != nil {
				return err
			}
			if err := reg.Publish(dir, ca, time.Now(), validity); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "published CRL number %d (%d revoked) to %s, current for %s\n", reg.Number, len(reg.Revoked), certs.CRLPath(dir), validity)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultPKIDir, "folder of the CA")
	cmd.Flags().DurationVar(&validity, "crl-validity", 7*24*time.Hour, "how long the CRL stays current")
	return cmd
}

func newCertsInspectCmd() *cobra.Command {
	f := &adminFlags{}
	cmd := &cobra.Command{
		Use:   "inspect CERT.pem",
		Short: "Ask the gateway what it makes of a certificate: party, registration, chain, expiry, revocation (exit 3 if refused)",
		Long: `Ask a running gateway what it would make of a client certificate (a PEM file:
the leaf, then any intermediates): the party it identifies and whether that
party is registered and active, the chain it verifies to, expiry, and the
revocation status of each link. ACCEPTED means the gateway would serve requests
made with it; anything else prints REFUSED with the reason and exits with
status 3.

It asks the admin API, so it needs an admin token of any role (auditor is
enough): --token or GATEHOUSE_ADMIN_TOKEN, with --admin and --ca as for every
admin command.`,
		Example: `  export GATEHOUSE_ADMIN_TOKEN=$(gatehouse token mint --key var/keys/admin-token.jwk --subject aziz --role auditor)
  gatehouse certs inspect --admin https://127.0.0.1:8444 --ca var/pki/ca.crt var/pki/police.northshire.crt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pem, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			in, err := c.Inspect(cmd.Context(), pem)
			if err != nil {
				return err
			}
			if f.json {
				err = printJSON(cmd.OutOrStdout(), in)
			} else {
				printInspection(cmd.OutOrStdout(), in)
			}
			if err == nil && !in.Accepted {
				return &exitError{code: 3, err: fmt.Errorf("the gateway would refuse %s", args[0])}
			}
			return err
		},
	}
	f.register(cmd)
	return cmd
}

// printInspection writes what the gateway makes of a certificate for a person.
func printInspection(w io.Writer, in *api.Inspection) {
	if in.Accepted {
		fmt.Fprintf(w, "ACCEPTED: identifies party %s (registered, %s)\n", in.Party, in.PartyStatus)
	} else {
		fmt.Fprintf(w, "REFUSED: %s\n", in.Problem)
		switch {
		case in.Party == "":
		case !in.Registered:
			fmt.Fprintf(w, "party %s: not registered with this gateway\n", in.Party)
		default:
			fmt.Fprintf(w, "party %s: registered, %s\n", in.Party, in.PartyStatus)
		}
	}
	if in.Leaf != nil {
		fmt.Fprintf(w, "expires %s (%d days)\n", in.Leaf.NotAfter.Format(time.RFC3339), in.Leaf.DaysLeft)
	}
	for i, c := range in.Chain {
		fmt.Fprintf(w, "  [%d] %s\n      issuer %s, serial %s\n", i, c.Subject, c.Issuer, c.Serial)
		if c.Revocation != "" {
			fmt.Fprintf(w, "      revocation: %s (%s)\n", c.Revocation, c.RevocationSource)
		}
	}
}

func newCertsInitCmd() *cobra.Command {
	var (
		dir, trustDomain, serverName string
		parties, dnsNames, ips       []string
		caValidity, serverValidity   time.Duration
		partyValidity, crlValidity   time.Duration
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
				reg, err := certs.LoadRegister(dir)
				if err != nil {
					return err
				}
				if err := reg.Publish(dir, ca, now, crlValidity); err != nil {
					return err
				}
				fmt.Fprintf(out, "published an empty CRL %s (refresh it with 'gatehouse certs crl' before it expires)\n", certs.CRLPath(dir))
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
	f.StringVar(&dir, "dir", defaultPKIDir, "output folder (under the data folder by default, as make run's PKI)")
	f.StringVar(&trustDomain, "trust-domain", "", "SPIFFE trust domain of party identities (required)")
	f.StringSliceVar(&parties, "party", nil, "party id to issue a client certificate for (repeatable)")
	f.StringVar(&serverName, "server-name", "gatehouse", "server certificate common name")
	f.StringSliceVar(&dnsNames, "server-dns", []string{"localhost"}, "server certificate DNS names")
	f.StringSliceVar(&ips, "server-ip", []string{"127.0.0.1"}, "server certificate IP addresses")
	f.DurationVar(&caValidity, "ca-validity", 5*365*24*time.Hour, "CA lifetime")
	f.DurationVar(&serverValidity, "server-validity", 365*24*time.Hour, "server certificate lifetime")
	f.DurationVar(&partyValidity, "party-validity", 90*24*time.Hour, "client certificate lifetime")
	f.DurationVar(&crlValidity, "crl-validity", 7*24*time.Hour, "how long the CRL stays current")
	return cmd
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
