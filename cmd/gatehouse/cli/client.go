package cli

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

func newClientCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "client",
		Short: "Talk to a gateway as a party: send, list, fetch",
		Long: `Talk to a gateway as a party, over mutual TLS with the party's certificate.
Connection flags fall back to GATEHOUSE_CLIENT_GATEWAY, GATEHOUSE_CLIENT_CERT,
GATEHOUSE_CLIENT_KEY and GATEHOUSE_CLIENT_CA.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.gateway, "gateway", "", "gateway URL, e.g. https://127.0.0.1:8443")
	pf.StringVar(&f.cert, "cert", "", "your party's client certificate (PEM)")
	pf.StringVar(&f.key, "key", "", "your party's client key (PEM)")
	pf.StringVar(&f.ca, "ca", "", "CA certificate of the gateway's server certificate (PEM)")
	addOutputFlags(pf, &f.json)
	cmd.AddCommand(newWhoamiCmd(f), newSendCmd(f), newInboxCmd(f), newFetchCmd(f), newAckCmd(f),
		newRequestCmd(f), newStatusCmd(f), newRespondCmd(f, true), newRespondCmd(f, false),
		newNoticesCmd(f), newNoticeAckCmd(f), newClientReceiptsCmd(f))
	return cmd
}

func newWhoamiCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show which party the gateway takes you to be",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			w, err := c.WhoAmI(cmd.Context())
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), w)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "party:        %s (%s)\nname:         %s\ncertificate:  serial %s, expires %s\n",
				w.Party, w.Kind, w.Name, w.CertificateSerial, w.CertificateExpiry.Format(time.RFC3339))
			return nil
		},
	}
}

func newSendCmd(f *clientFlags) *cobra.Command {
	var (
		d                api.ExchangeDeclaration
		subjects         []string
		authoriser, rank string
		withhold         string
		notify           bool
	)
	cmd := &cobra.Command{
		Use:   "send FILE",
		Short: "Declare a disclosure and, if the gateway allows it, upload FILE sealed for the recipient",
		Long: `Declare a disclosure; the gateway decides at once against the agreement. If it is
allowed, FILE is uploaded and sealed for the recipient; if not, nothing is sent and
the failing checks are printed. FILE may be - for standard input.

An answer to an information request (--request-ref ID) inherits what the request
said: agreement, recipient, purpose, basis, conditions, exemption, categories,
necessity and subjects; flags given here narrow or override them.

Payloads up to 1 MiB go with their declaration in one request; larger ones are
declared first and uploaded once allowed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			file, size, cleanup, err := openPayload(args[0])
			if err != nil {
				return err
			}
			defer cleanup()
			if d.Subjects, err = subjectsFlag(cmd, subjects); err != nil {
				return err
			}
			if authoriser != "" || rank != "" {
				d.Authoriser = &api.Authoriser{Name: authoriser, Rank: rank}
			}
			switch {
			case notify && withhold != "":
				return errors.New("--notify and --withhold cannot both be given")
			case notify:
				d.Notification = &api.Notification{Decision: "notify"}
			case withhold != "":
				d.Notification = &api.Notification{Decision: "withhold", Reason: withhold}
			}
			if d.ContentType == "" {
				d.ContentType = contentTypeOf(args[0])
			}
			d.Size = size
			// Small payloads go with their declaration in one request, larger
			// ones are declared first and uploaded once allowed.
			e, err := c.Send(cmd.Context(), &d, newProgress(cmd.ErrOrStderr(), "uploading", size, file))
			if err != nil {
				if e != nil && e.ID != "" {
					return fmt.Errorf("exchange %s was allowed, but the upload failed (run send again to retry): %w", e.ID, err)
				}
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), e)
			}
			under := e.Agreement
			if under == "" {
				under = "no agreement"
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "exchange %s %s to %s under %s (%s, sha256 %s)\n",
				e.ID, e.State, e.Recipient, under, humanBytes(e.Payload.Size), e.Payload.SHA256)
			if d := e.Decision; d != nil && d.Outcome == "allow-override" {
				fmt.Fprint(w, "  an emergency override: a DPO must review it")
				if d.ReviewBy != nil {
					fmt.Fprintf(w, " by %s", d.ReviewBy.Format(time.RFC3339))
				}
				fmt.Fprintln(w)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&d.Agreement, "agreement", "", "agreement id")
	fl.StringVar(&d.Recipient, "to", "", "recipient party id")
	fl.StringVar(&d.Purpose, "purpose", "", "purpose code, e.g. crime-prevention-detection")
	fl.StringVar(&d.LawfulBasis, "basis", "", "UK GDPR Art 6 basis, e.g. A6-1-e")
	fl.StringSliceVar(&d.SpecialCategory, "special-category", nil, "Art 9 and DPA Sch 1 conditions, e.g. A9-2-b,DPA-S1-P1-1")
	fl.StringSliceVar(&d.CriminalOffence, "criminal-offence", nil, "Art 10 and DPA Sch 1 conditions, e.g. A10,DPA-S1-P2-10")
	fl.StringVar(&d.Exemption, "exemption", "", "DPA Sch 2 exemption, e.g. DPA-S2-P1-2")
	fl.StringVar(&d.Instrument, "instrument", "", "the one statutory instrument of the flow relied on (its code), e.g. CDA-1998-S115")
	fl.StringSliceVar(&d.DataCategories, "category", nil, "data categories, e.g. identity,financial")
	fl.StringArrayVar(&subjects, "subject", nil, "a data subject as TYPE:VALUE, e.g. nino:QQ123456C (repeatable); only its keyed hash is kept")
	fl.IntVar(&d.SubjectCount, "subject-count", 0, "how many people a bulk payload covers")
	fl.StringVar(&d.Justification, "justification", "", "why the disclosure is necessary")
	fl.StringVar(&d.RequestedBy, "requested-by", "", "who asked for the data")
	fl.StringVar(&authoriser, "authoriser", "", "name of the authorising officer")
	fl.StringVar(&rank, "rank", "", "rank of the authorising officer, e.g. inspector")
	fl.StringVar(&d.Urgency, "urgency", "", "routine, urgent or emergency")
	fl.StringVar(&d.RequestRef, "request-ref", "", "the request this answers (its agreement, recipient, purpose, basis, categories and subjects are inherited)")
	fl.StringVar(&d.ConsentRef, "consent-ref", "", "reference of the data subject's consent record")
	fl.BoolVar(&notify, "notify", false, "the data subject will be told")
	fl.StringVar(&withhold, "withhold", "", "the data subject will not be told yet, for this reason")
	fl.StringVar(&d.ContentType, "content-type", "", "media type of FILE (default: from its extension)")
	fl.StringVar(&d.SHA256, "sha256", "", "expected SHA-256 of FILE; the gateway refuses another")
	return cmd
}

// openPayload opens FILE, or spools standard input to a temporary file so
// that its size can be declared before upload.
func openPayload(name string) (io.Reader, int64, func(), error) {
	if name != "-" {
		fh, err := os.Open(name)
		if err != nil {
			return nil, 0, nil, err
		}
		st, err := fh.Stat()
		if err != nil || !st.Mode().IsRegular() {
			fh.Close()
			return nil, 0, nil, fmt.Errorf("%s is not a regular file", name)
		}
		return fh, st.Size(), func() { fh.Close() }, nil
	}
	tmp, err := os.CreateTemp("", "gatehouse-send-*")
	if err != nil {
		return nil, 0, nil, err
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	n, err := io.Copy(tmp, os.Stdin)
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, 0, nil, err
	}
	return tmp, n, cleanup, nil
}

func contentTypeOf(name string) string {
	if t := mime.TypeByExtension(filepath.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func newInboxCmd(f *clientFlags) *cobra.Command {
	var (
		after string
		limit int
	)
	cmd := &cobra.Command{
		Use:   "inbox",
		Short: "List exchanges delivered to you",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			l, err := c.Inbox(cmd.Context(), after, limit)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), l)
			}
			w := cmd.OutOrStdout()
			if len(l.Exchanges) == 0 {
				fmt.Fprintln(w, "no exchanges")
			} else {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "EXCHANGE\tSTATE\tFROM\tAGREEMENT\tPURPOSE\tURGENCY\tSIZE\tDELIVERED")
				for _, e := range l.Exchanges {
					urgency, under := e.Urgency, e.Agreement
					if urgency == "" {
						urgency = "-"
					}
					if under == "" {
						under = "-"
					}
					if e.Override {
						urgency += " OVERRIDE"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.State, e.Sender, under, e.Purpose, urgency,
						humanBytes(e.Payload.Size), e.DeliveredAt.Format("2006-01-02 15:04"))
				}
				if l.Next != "" {
					fmt.Fprintf(tw, "more: --after %s\n", l.Next)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if len(l.Notices) > 0 {
				fmt.Fprintln(w)
				fmt.Fprintln(w, "Rectification notices awaiting your acknowledgement (gatehouse client notice-ack NOTICE):")
				printNotices(w, l.Notices)
			}
			if len(l.Requests) > 0 {
				fmt.Fprintln(w)
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "REQUEST\tSTATE\tFROM\tAGREEMENT\tURGENCY\tDEADLINE\tDATA SOUGHT")
				for _, r := range l.Requests {
					deadline := "-"
					if r.Deadline != nil {
						deadline = r.Deadline.Format("2006-01-02 15:04")
						if r.Overdue {
							deadline += " OVERDUE"
						}
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.State, r.Requester, r.Agreement, r.Urgency, deadline, r.DataSought)
				}
				return tw.Flush()
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&after, "after", "", "list exchanges after this id")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many")
	return cmd
}

func newFetchCmd(f *clientFlags) *cobra.Command {
	var decryptKey, out string
	cmd := &cobra.Command{
		Use:   "fetch EXCHANGE-ID",
		Short: "Download, verify and decrypt an exchange's payload",
		Long: `Download an exchange's sealed payload, open its envelope with your private
encryption key, check the gateway's signature, decrypt, and check the SHA-256
against the signed manifest. --out gets the file only if every check passes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if decryptKey == "" {
				decryptKey = os.Getenv("GATEHOUSE_CLIENT_DECRYPT_KEY")
			}
			if decryptKey == "" {
				return errors.New("--decrypt-key is required (or set GATEHOUSE_CLIENT_DECRYPT_KEY)")
			}
			key, err := seal.ReadKey(decryptKey)
			if err != nil {
				return fmt.Errorf("--decrypt-key: %w", err)
			}
			id := args[0]
			fetch := func(w io.Writer) (*seal.Manifest, error) {
				m, err := c.OpenEnvelope(cmd.Context(), id, key)
				if err != nil {
					return nil, err
				}
				defer seal.Wipe(m.Encryption.Key)
				body, err := c.PayloadReader(cmd.Context(), id, 0)
				if err != nil {
					return nil, err
				}
				defer body.Close()
				return m, client.Decrypt(m, newProgress(cmd.ErrOrStderr(), "downloading", m.Ciphertext.Size, body), w)
			}
			if out == "" || out == "-" {
				m, err := fetch(cmd.OutOrStdout())
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(cmd.ErrOrStderr(), manifestSummary(m))
				}
				return nil
			}
			// Resumable: the ciphertext is kept beside the target until every
			// check passed; running fetch again resumes an interrupted download.
			m, err := c.Download(cmd.Context(), id, key, out, func(r io.Reader, size int64) io.Reader {
				return newProgress(cmd.ErrOrStderr(), "downloading", size, r)
			})
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), manifestSummary(m))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "fetched %s from %s under %s: %s, %s, sha256 %s verified\n",
				m.Exchange, m.Sender, m.Agreement, out, humanBytes(m.Plaintext.Size), m.Plaintext.SHA256)
			return nil
		},
	}
	cmd.Flags().StringVar(&decryptKey, "decrypt-key", "", "your party's private encryption key (JWK)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the payload here (default: standard output)")
	return cmd
}

// manifestSummary is the manifest without its data key, for printing.
func manifestSummary(m *seal.Manifest) map[string]any {
	return map[string]any{
		"exchange": m.Exchange, "agreement": m.Agreement, "sender": m.Sender, "recipient": m.Recipient,
		"purpose": m.Purpose, "content_type": m.ContentType, "size": m.Plaintext.Size, "sha256": m.Plaintext.SHA256,
		"verified": true,
	}
}

// humanBytes writes a size for a person: "6.6 KiB".
func humanBytes(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }

func newAckCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "ack EXCHANGE-ID",
		Short: "Record that you received an exchange",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			e, err := c.Acknowledge(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), e)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "exchange %s acknowledged at %s\n", e.ID, e.AcknowledgedAt.Format(time.RFC3339))
			return nil
		},
	}
}

func newRequestCmd(f *clientFlags) *cobra.Command {
	var (
		q                api.InformationRequest
		subjects         []string
		authoriser, rank string
		deadline         string
	)
	cmd := &cobra.Command{
		Use:   "request",
		Short: "Ask the council for information (e.g. a police Schedule 2 request)",
		Long: `Ask the council for information under an agreement. The gateway decides the
request at once (a refusal prints the failing checks) and routes it to the
council service that handles it; follow it with 'gatehouse client status ID'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if q.Subjects, err = subjectsFlag(cmd, subjects); err != nil {
				return err
			}
			if authoriser != "" || rank != "" {
				q.Authoriser = &api.Authoriser{Name: authoriser, Rank: rank}
			}
			if deadline != "" {
				t, err := parseDeadline(deadline, time.Now())
				if err != nil {
					return err
				}
				q.Deadline = &t
			}
			r, err := c.Request(cmd.Context(), &q)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "request %s %s; routed to %s under %s\n", r.ID, r.State, r.Handler, r.Agreement)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&q.Agreement, "agreement", "", "agreement id")
	fl.StringVar(&q.To, "to", "", "the council service to ask (default: the agreement's handler)")
	fl.StringVar(&q.Purpose, "purpose", "", "purpose code")
	fl.StringVar(&q.LawfulBasis, "basis", "", "UK GDPR Art 6 basis")
	fl.StringSliceVar(&q.SpecialCategory, "special-category", nil, "Art 9 and DPA Sch 1 conditions")
	fl.StringSliceVar(&q.CriminalOffence, "criminal-offence", nil, "Art 10 and DPA Sch 1 conditions")
	fl.StringVar(&q.Exemption, "exemption", "", "DPA Sch 2 exemption, e.g. DPA-S2-P1-2")
	fl.StringSliceVar(&q.DataCategories, "category", nil, "data categories sought")
	fl.StringVar(&q.DataSought, "data-sought", "", "what information is sought")
	fl.StringArrayVar(&subjects, "subject", nil, "a data subject as TYPE:VALUE, e.g. nino:QQ123456C (repeatable)")
	fl.StringVar(&q.Offence, "offence", "", "the offence under investigation")
	fl.BoolVar(&q.WouldPrejudice, "would-prejudice", false, "not disclosing would prejudice the prevention or detection of crime")
	fl.StringVar(&q.StatutoryPower, "statutory-power", "", "the power relied on")
	fl.StringVar(&q.Necessity, "necessity", "", "why the information is necessary")
	fl.StringVar(&authoriser, "authoriser", "", "name of the authorising officer")
	fl.StringVar(&rank, "rank", "", "rank of the authorising officer")
	fl.StringVar(&q.Urgency, "urgency", "", "routine, urgent or emergency")
	fl.StringVar(&deadline, "deadline", "", "when the answer is needed: a date (2006-01-02, the end of that day in London), RFC 3339, or a time from now (14d, 36h)")
	fl.StringVar(&q.Reference, "reference", "", "your own reference")
	return cmd
}

func newStatusCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "status REQUEST-ID",
		Short: "Show where a request stands",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			r, err := c.RequestStatus(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), r)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "request %s: %s\n  from %s to %s under %s\n  sought: %s\n", r.ID, r.State, r.Requester, r.Handler, r.Agreement, r.DataSought)
			if r.Deadline != nil {
				fmt.Fprintf(w, "  deadline: %s", r.Deadline.Format(time.RFC3339))
				if r.Overdue {
					fmt.Fprint(w, " (overdue)")
				}
				fmt.Fprintln(w)
			}
			if r.Reason != "" {
				fmt.Fprintf(w, "  handler says: %s\n", r.Reason)
			}
			for _, e := range r.Exchanges {
				fmt.Fprintf(w, "  answered by exchange %s\n", e)
			}
			return nil
		},
	}
}

func newRespondCmd(f *clientFlags, accept bool) *cobra.Command {
	var reason string
	use, short := "decline REQUEST-ID --reason TEXT", "Decline a request you handle, telling the requester why"
	if accept {
		use, short = "accept REQUEST-ID", "Accept a request you handle (answer it with 'send --request-ref ID')"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			var r *api.Request
			if accept {
				r, err = c.Accept(cmd.Context(), args[0], reason)
			} else {
				r, err = c.Decline(cmd.Context(), args[0], reason)
			}
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "request %s is now %s\n", r.ID, r.State)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "the reason (or a note when accepting), shown to the requester")
	return cmd
}

// parseDeadline reads a deadline: a date (the end of that day, UK time), an
// RFC 3339 time, or a time from now in days or hours (14d, 36h).
func parseDeadline(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		london, lerr := time.LoadLocation("Europe/London")
		if lerr != nil {
			london = time.UTC
		}
		return time.Date(d.Year(), d.Month(), d.Day(), 23, 59, 59, 0, london), nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days > 0 {
			return now.AddDate(0, 0, days), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("--deadline %q: want a date (2006-01-02), RFC 3339, or a time from now (14d, 36h)", s)
}
