// Package onshape fetches hand parts' drawings from Onshape: a Client is
// the parts.DrawingSource a Service is given in parts.Options.Drawings.
//
// It exports the drawing element a part's onshapeUrl names
// (.../documents/{did}/w|v/{wvid}/e/{eid}) as PDF through the Onshape API
// at Options.BaseURL, polls the export and streams the result. Only the IDs
// are taken from onshapeUrl, so a crafted URL never makes the server fetch
// another host. Onshape refusing or failing gives a *parts.UpstreamError.
package onshape
