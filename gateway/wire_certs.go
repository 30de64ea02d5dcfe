package gateway

import (
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/certs"
)

// The certificate documents of the admin API: domain → wire.

func seenCertificateView(c *certs.SeenCertificate) api.SeenCertificate {
	return api.SeenCertificate{
		SHA256: c.Fingerprint, Party: c.Party, Serial: c.Serial, Subject: c.Subject, Issuer: c.Issuer,
		NotAfter: c.NotAfter, FirstSeen: c.FirstSeen, LastSeen: c.LastSeen, DaysLeft: c.DaysLeft,
	}
}

func inspectionView(in *certs.Inspection) api.Inspection {
	v := api.Inspection{
		Accepted: in.Accepted, Party: in.Party, Registered: in.Registered, PartyStatus: in.PartyStatus, Problem: in.Problem,
		Chain: mapSlice(in.Chain, func(c certs.InspectedCert) api.InspectedCertificate {
			return api.InspectedCertificate{
				Subject: c.Subject, Issuer: c.Issuer, Serial: c.Serial, NotBefore: c.NotBefore, NotAfter: c.NotAfter,
				SHA256: c.Fingerprint, URIs: c.URIs, Revocation: string(c.Revocation), RevocationSource: c.RevocationBy,
			}
		}),
	}
	if l := in.Leaf; l != nil {
		v.Leaf = &api.LeafExpiry{NotAfter: l.NotAfter, DaysLeft: l.DaysLeft}
	}
	return v
}
