package agreements

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// DecodeYAML strictly decodes one agreement document: unknown keys are errors.
func DecodeYAML(data []byte) (*Agreement, error) {
	var a Agreement
	if err := decodeYAML(data, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// DecodeJSON strictly decodes one agreement document: unknown keys and
// trailing data are errors.
func DecodeJSON(data []byte) (*Agreement, error) {
	var a Agreement
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the agreement")
	}
	return &a, nil
}

// DecodePartiesYAML strictly decodes a YAML list of parties.
func DecodePartiesYAML(data []byte) ([]*Party, error) {
	var ps []*Party
	if err := decodeYAML(data, &ps); err != nil {
		return nil, err
	}
	return ps, nil
}

func decodeYAML(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty document")
		}
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("more than one YAML document")
	}
	return nil
}
