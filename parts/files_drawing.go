package parts

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Drawings fetched from where a part is designed.

// DrawingSource fetches a part's drawing PDF from where the part is
// designed (Onshape, by p.OnshapeURL). FetchDrawing returns the file name
// to record and the body, which the Service reads through the upload
// checks and closes. A source that refuses or fails returns an
// *UpstreamError; a p.OnshapeURL it cannot use, a *ValidationError.
// Implementations live outside the library (package onshape has one); a
// Service has one, set in Options.Drawings.
type DrawingSource interface {
	FetchDrawing(ctx context.Context, p *Part) (name string, body io.ReadCloser, err error)
}

// DrawingFetcher adapts a function to a DrawingSource.
type DrawingFetcher func(ctx context.Context, p *Part) (name string, body io.ReadCloser, err error)

// FetchDrawing calls f.
func (f DrawingFetcher) FetchDrawing(ctx context.Context, p *Part) (string, io.ReadCloser, error) {
	return f(ctx, p)
}

// Drawing returns the drawing PDF of a hand part, fetching it from
// Options.Drawings (ErrNoDrawingSource without one) and
// caching it as the part's drawing file when the part holds none or refresh
// is set. A part that is not a hand part gives a *ValidationError (field
// type); a part without onshapeUrl gives ErrNotFound. A fetched file goes
// through UploadFile's checks (a non-PDF answer is ErrUnsupportedType).
func (s *Service) Drawing(ctx context.Context, id int64, refresh bool, actor string) (io.ReadSeekCloser, File, error) {
	p, err := s.FindPartByID(ctx, id)
	if err != nil {
		return nil, File{}, err
	}
	if p.Type != TypeHand {
		return nil, File{}, invalid("type", "Drawings are only available for hand parts")
	}
	if p.OnshapeURL == "" {
		return nil, File{}, fmt.Errorf("part %d has no onshapeUrl to fetch a drawing from: %w", id, ErrFileNotFound)
	}
	if !refresh {
		rc, f, err := s.OpenFileOfKind(ctx, id, FileDrawing)
		if !errors.Is(err, ErrNotFound) {
			return rc, f, err
		}
	}
	if s.drawings == nil {
		return nil, File{}, fmt.Errorf("drawing of part %d: %w", id, ErrNoDrawingSource)
	}
	name, body, err := s.drawings.FetchDrawing(ctx, p)
	if err != nil {
		return nil, File{}, fmt.Errorf("fetch drawing of part %d: %w", id, err)
	}
	defer body.Close()
	if n := newFileName(name); n.base == "" {
		name = "drawing.pdf"
	} else if name = n.base; n.ext != formatPDF.ext {
		name += ".pdf"
	}
	if _, err := s.UploadFile(ctx, id, Upload{Name: name, Kind: FileDrawing, Body: body, Actor: actor}); err != nil {
		return nil, File{}, err
	}
	return s.OpenFileOfKind(ctx, id, FileDrawing)
}
