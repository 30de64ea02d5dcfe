package config

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// docker-compose.yml and deploy/gatehouse.yaml are kept correct by tests,
// since no container runs here: the configuration decodes strictly and
// validates (but for the files that only exist in the containers), and
// every GATEHOUSE_ variable the compose file sets is a setting.
func TestDeployConfiguration(t *testing.T) {
	compose, err := os.ReadFile("../docker-compose.yml")
	require.NoError(t, err)
	var doc struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(compose, &doc))
	var environ []string
	for name, svc := range doc.Services {
		for k := range svc.Environment {
			if strings.HasPrefix(k, EnvPrefix) {
				environ = append(environ, k+"=from-compose")
			}
		}
		for _, v := range svc.Volumes {
			host, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(host, "./store/") || strings.HasPrefix(host, "./deploy/gatehouse.yaml") {
				_, err := os.Stat("../" + strings.TrimPrefix(host, "./"))
				require.NoError(t, err, "service %s mounts %s", name, host)
			}
		}
	}
	require.NotEmpty(t, environ)
	require.Empty(t, UnknownEnv(environ), "docker-compose.yml sets variables that are no setting")

	b, err := os.ReadFile("../deploy/gatehouse.yaml")
	require.NoError(t, err)
	var c Config
	require.NoError(t, decodeStrict(b, &c))
	require.NoError(t, applyEnv(&c, environ))
	c.Defaults()
	err = c.Validate()
	if v, ok := valid.As(err); ok {
		v = slices.DeleteFunc(v, func(e valid.Problem) bool { return e.Rule == "file" })
		require.Empty(t, v, "deploy/gatehouse.yaml")
	} else {
		require.NoError(t, err)
	}
	require.Equal(t, "postgres", c.Database.Driver)
	require.NotEqual(t, c.Objects.Bucket, c.Audit.Bucket)
	require.True(t, strings.Contains(string(compose), c.Objects.Bucket) && strings.Contains(string(compose), c.Audit.Bucket),
		"the compose file creates the buckets the configuration names")
}
