package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/devenv/demo"
	"github.com/gatehouse-gw/gatehouse/devenv/idp"
	"github.com/gatehouse-gw/gatehouse/server"
)

func newDevCmd() *cobra.Command {
	var (
		dir, minioBin, listen, adminListen, minioAddr, idpListen string
		mailpitBin, smtpAddr, mailUIAddr                         string
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a development gateway with MinIO, SQLite and the demo parties",
		Long: `Run a development gateway: generate a PKI for the demo parties under --dir,
start MinIO, Mailpit (an SMTP server that catches the alerts' e-mail) and a
development OpenID provider beside the gateway, load the demo parties and
agreements, and print commands to try a first exchange and the console's demo
people. Ctrl-C stops them all. Not for production.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDev(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), dir, minioBin, listen, adminListen, minioAddr,
				mailpitBin, smtpAddr, mailUIAddr, idpListen)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "var", "folder for the PKI, keys, database and MinIO data")
	cmd.Flags().StringVar(&minioBin, "minio", "bin/minio", "MinIO server binary")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8443", "gateway address")
	cmd.Flags().StringVar(&adminListen, "admin-listen", "127.0.0.1:8444", "admin API address")
	cmd.Flags().StringVar(&minioAddr, "minio-addr", "127.0.0.1:9000", "MinIO address")
	cmd.Flags().StringVar(&mailpitBin, "mailpit", "bin/mailpit", "Mailpit binary (empty: no e-mail)")
	cmd.Flags().StringVar(&smtpAddr, "smtp-addr", "127.0.0.1:1025", "Mailpit's SMTP address")
	cmd.Flags().StringVar(&mailUIAddr, "mail-ui-addr", "127.0.0.1:8025", "Mailpit's web UI address")
	cmd.Flags().StringVar(&idpListen, "idp-listen", "127.0.0.1:8480", "development OpenID provider address (empty: no console)")
	return cmd
}

func runDev(ctx context.Context, stdout, stderr io.Writer, dir, minioBin, listen, adminListen, minioAddr, mailpitBin, smtpAddr, mailUIAddr, idpListen string) error {
	if _, err := os.Stat(minioBin); err != nil {
		return fmt.Errorf("MinIO server not found at %s: run 'make bin/minio' (make run does)", minioBin)
	}
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return err
	}
	accessKey, secretKey, err := devMinIOCredentials(filepath.Join(dir, "keys", "minio.env"))
	if err != nil {
		return err
	}
	minioLog, err := os.OpenFile(filepath.Join(dir, "minio.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer minioLog.Close()
	fmt.Fprintf(stderr, "starting MinIO on %s (data in %s, log in %s)\n", minioAddr, filepath.Join(dir, "minio"), minioLog.Name())
	minio, err := devenv.StartMinIO(ctx, minioBin, filepath.Join(dir, "minio"), minioAddr, accessKey, secretKey, minioLog)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(stderr, "stopping MinIO")
		if err := minio.Stop(); err != nil {
			fmt.Fprintln(stderr, err)
		}
	}()

	issuer := ""
	if idpListen != "" {
		provider, err := devenv.StartIdP(dir, idpListen, stdout, nil)
		if err != nil {
			return fmt.Errorf("starting the development identity provider: %w", err)
		}
		defer provider.Close()
		issuer = provider.Issuer
		fmt.Fprintf(stderr, "development OpenID provider on %s\n", issuer)
	}
	opts := devenv.Options{
		Listen:          listen,
		AdminListen:     adminListen,
		TrustDomain:     demo.TrustDomain,
		Parties:         append(demo.PartyIDs(), "unregistered.agency"),
		ObjectsEndpoint: minio.Endpoint,
		AccessKey:       accessKey,
		SecretKey:       secretKey,
		ConsoleIssuer:   issuer,
	}
	env, err := devenv.Prepare(dir, opts)
	if err != nil {
		return err
	}
	mailUI := ""
	if mailpitBin != "" {
		if _, err := os.Stat(mailpitBin); err != nil {
			return fmt.Errorf("no Mailpit at %s: run 'make bin/mailpit' (make run does), or pass --mailpit '' to run without e-mail", mailpitBin)
		}
		mailLog, err := os.OpenFile(filepath.Join(dir, "mailpit.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		defer mailLog.Close()
		mp, err := devenv.StartMailpit(ctx, mailpitBin, filepath.Join(dir, "mailpit"), smtpAddr, mailUIAddr,
			filepath.Join(env.PKI(), "gateway.crt"), filepath.Join(env.PKI(), "gateway.key"), mailLog)
		if err != nil {
			return err
		}
		defer func() {
			fmt.Fprintln(stderr, "stopping Mailpit")
			if err := mp.Stop(); err != nil {
				fmt.Fprintln(stderr, err)
			}
		}()
		fmt.Fprintf(stderr, "started Mailpit: SMTP on %s, alerts' e-mail readable at %s\n", mp.SMTP, mp.UI)
		mailUI = mp.UI
		opts.SMTP = mp.SMTP
		if env, err = devenv.Prepare(dir, opts); err != nil {
			return err
		}
	}
	log := server.NewLogger(env.Config.Log, stderr)
	a, err := server.New(ctx, env.Config, log)
	if err != nil {
		return err
	}
	parties, err := a.DB.Parties(ctx)
	if err != nil {
		a.Close()
		return err
	}
	if len(parties) == 0 {
		if err := demo.Seed(ctx, a.Agreements, env.EncryptionKeys); err != nil {
			a.Close()
			return fmt.Errorf("loading the demo parties and agreements: %w", err)
		}
		fmt.Fprintln(stderr, "loaded the demo parties and agreements")
	}
	printDevGuide(stdout, env, listen, adminListen)
	if mailUI != "" {
		fmt.Fprintf(stdout, "Alerts' e-mail (to %s and the parties' contacts) is caught by Mailpit: read it at %s\n\n",
			strings.Join(devenv.DevMailboxes["dpo"], ", "), mailUI)
	}
	if issuer != "" {
		printConsoleGuide(stdout, adminListen, issuer)
	}
	return serve(ctx, a, log)
}

func printConsoleGuide(w io.Writer, adminListen, issuer string) {
	fmt.Fprintf(w, "The console: https://%s/console (the development CA signs its certificate: trust var/pki/ca.crt,\nor accept the warning). It signs in with the development OpenID provider at %s,\nwhich signs in any of these demo people without a password (sign-ins are printed here):\n\n", adminListen, issuer)
	for _, p := range idp.People {
		fmt.Fprintf(w, "  %-32s %-14s %s (%s)\n", p.Username, strings.Join(p.Roles, ", "), p.Name, p.Job)
	}
	fmt.Fprintf(w, "\nThe admin commands accept that provider's tokens too (beside token mint's): sign in as one of them with\n"+
		"  GATEHOUSE_ADMIN_URL=https://%s GATEHOUSE_ADMIN_CA=var/pki/ca.crt bin/gatehouse login --issuer %s --client-id %s\n\n",
		adminListen, issuer, devenv.CLIClientID)
}

// devMinIOCredentials reads or creates the development MinIO credentials.
func devMinIOCredentials(path string) (access, secret string, err error) {
	if b, err := os.ReadFile(path); err == nil {
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), "=")
			switch k {
			case "MINIO_ROOT_USER":
				access = v
			case "MINIO_ROOT_PASSWORD":
				secret = v
			}
		}
		if access != "" && secret != "" {
			return access, secret, nil
		}
	}
	access, secret = "gatehouse-dev", devenv.RandomSecret(16)
	content := "MINIO_ROOT_USER=" + access + "\nMINIO_ROOT_PASSWORD=" + secret + "\n"
	return access, secret, os.WriteFile(path, []byte(content), 0o600)
}

func printDevGuide(w io.Writer, env *devenv.Env, listen, adminListen string) {
	gw := "https://" + listen
	pki := env.PKI()
	curl := func(party string) string {
		return fmt.Sprintf("curl --cacert %s/ca.crt --cert %s/%s.crt --key %s/%s.key", pki, pki, party, pki, party)
	}
	fmt.Fprintf(w, `
Gatehouse development gateway on %[1]s
  trust domain %[2]s; configuration %[3]s
  demo parties: %[4]s
  demo agreements: police-crime, nfi, dwp-benefits, hmrc-tax, court-orders

Try it (paste into another terminal, from this folder):

  # Who am I? (council revenues)
  %[5]s %[1]s/v1/whoami

  # Disclose a file to Northshire Police under the police-crime agreement
  export GATEHOUSE_CLIENT_GATEWAY=%[1]s GATEHOUSE_CLIENT_CA=%[6]s/ca.crt
  bin/gatehouse client --cert %[6]s/council.revenues.crt --key %[6]s/council.revenues.key \
    send README.md --agreement police-crime --to police.northshire \
    --purpose crime-prevention-detection --basis A6-1-e --exemption DPA-S2-P1-2 \
    --instrument CDA-1998-S115 --criminal-offence A10,DPA-S1-P2-10 --category identity,financial \
    --subject nino:QQ123456C --authoriser "Priya Shah" --rank service-manager \
    --justification "Named suspect in fraud investigation NP-2026-0142; disclosure necessary and proportionate"

  # The police see it in their inbox, then fetch, verify and decrypt it
  bin/gatehouse client --cert %[6]s/police.northshire.crt --key %[6]s/police.northshire.key inbox
  bin/gatehouse client --cert %[6]s/police.northshire.crt --key %[6]s/police.northshire.key \
    fetch EXCHANGE-ID --decrypt-key %[6]s/police.northshire.enc.jwk --out disclosed.md

  # A disclosure no agreement allows is refused, with the reasons
  bin/gatehouse client --cert %[6]s/council.revenues.crt --key %[6]s/council.revenues.key \
    send README.md --agreement police-crime --to dwp --purpose marketing --basis A6-1-e --category identity

  # The same with curl: declare, then upload
  %[5]s -H 'Content-Type: application/json' %[1]s/v1/exchanges -d '{"agreement":"hmrc-tax","recipient":"hmrc","purpose":"tax-assessment-collection","lawful_basis":"A6-1-c","exemption":"DPA-S2-P1-2","data_categories":["identity","tax"],"subjects":[{"type":"nino","value":"QQ123456C"}],"justification":"Assessment of unpaid council tax, case NSC-CT-2291","content_type":"text/plain","size":5}'
  printf hello | %[5]s -X PUT --data-binary @- %[1]s/v1/exchanges/EXCHANGE-ID/payload

Administration (admin API on %[7]s; tokens signed by a development key):

  export GATEHOUSE_ADMIN_URL=https://%[7]s GATEHOUSE_ADMIN_CA=%[6]s/ca.crt
  export GATEHOUSE_ADMIN_TOKEN=$(bin/gatehouse token mint --key %[8]s --subject alice --role admin)
  bin/gatehouse agreements list
  bin/gatehouse agreements show police-crime
  bin/gatehouse agreements suspend nfi --reason "annual review overdue"
  bin/gatehouse parties list
  # a DPO (approves agreements; not their own) and an auditor (reads only):
  bin/gatehouse token mint --key %[8]s --subject dana --role dpo
  bin/gatehouse token mint --key %[8]s --subject aziz --role auditor

The audit record and compliance exports (signed; as a DPO):

  bin/gatehouse audit verify --config %[3]s
  export GATEHOUSE_ADMIN_TOKEN=$(bin/gatehouse token mint --key %[8]s --subject dana --role dpo)
  bin/gatehouse export disclosures --from %[9]s --to %[9]s -o register.csv
  bin/gatehouse export verify register.csv
  bin/gatehouse export subject-access --subject nino:QQ123456C -o sar.json

Press Ctrl-C to stop the gateway and MinIO.

`, gw, env.TrustDomain, env.ConfigFile, strings.Join(demo.PartyIDs(), ", "), curl("council.revenues"), pki, adminListen, env.AdminTokenKeyFile(),
		time.Now().UTC().Format(time.DateOnly))
}
