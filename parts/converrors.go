package parts

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/partflow/partflow/convert"
)

// conversionFailed logs the detail of a failed conversion of cad under a
// new correlation id and returns the error users see: one sentence chosen
// by the converter's sentinel, never the converter's own text (which may
// hold job paths, socket names, process ids and other parts' log lines),
// followed by the reference.
func (s *Service) conversionFailed(err error, from convert.Format, cad File) *ConversionError {
	ref := newRef()
	s.log.Warn("conversion failed", "ref", ref, "input_sha256", cad.SHA256, "file", cad.Name, "err", err)
	return &ConversionError{Message: fmt.Sprintf("%s (reference %s)", userMessage(err, from), ref), Ref: ref, Err: err}
}

// userMessage is the sentence users get for a conversion that failed with
// err, a file of format from.
func userMessage(err error, from convert.Format) string {
	kind := "CAD"
	if from != "" {
		kind = strings.ToUpper(string(from))
	}
	switch {
	case errors.Is(err, convert.ErrInvalidInput):
		return fmt.Sprintf("The %s file could not be read: it is damaged, empty or holds no shape to convert", kind)
	case errors.Is(err, convert.ErrTooLarge):
		return fmt.Sprintf("The %s model is too detailed to convert within this server's limits", kind)
	case errors.Is(err, convert.ErrOutOfMemory):
		return "The converter ran out of memory on this file"
	case errors.Is(err, convert.ErrTimeout):
		return "The conversion took too long and was stopped"
	case errors.Is(err, convert.ErrCrashed):
		return "The converter crashed on this file"
	case errors.Is(err, convert.ErrUnsupportedFormat):
		return fmt.Sprintf("%s files cannot be converted to 3D models", kind)
	case errors.Is(err, convert.ErrUnavailable):
		return "The converter is not available right now; the conversion can be retried later"
	}
	return "The conversion failed"
}

// newRef returns a short random correlation id.
func newRef() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b)
}
