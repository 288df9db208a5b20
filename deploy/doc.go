// Package deploy holds no code: its tests check the deployment artefacts
// (the Dockerfile, the Kubernetes manifests under kubernetes/, the Helm
// values under helm/) against the Kubernetes API types, the Makefile and the
// otelcol-argus binary itself. See README.md for how to use them.
package deploy
