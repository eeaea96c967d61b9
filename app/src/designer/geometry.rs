//! Canvas geometry: node sizes, the grid, pan/zoom and the shapes drawn for edges and
//! the minimap. Canvas units are the layout annotation's units; screen units are CSS
//! pixels inside the canvas element.

/// Node positions snap to this many canvas units.
pub const GRID: i64 = 20;
/// A node's size, in canvas units. Positions are a node's top-left corner.
pub const NODE_WIDTH: i64 = 200;
pub const NODE_HEIGHT: i64 = 80;
/// Distance between the left edges of neighbouring auto-layout columns.
pub const COLUMN: i64 = 280;
/// Distance between the tops of neighbouring auto-layout rows.
pub const ROW: i64 = 120;

pub const MIN_ZOOM: f64 = 0.1;
pub const MAX_ZOOM: f64 = 2.5;

/// Rounds to the nearest grid line, halves away from zero so snapping is symmetric.
pub fn snap(value: f64) -> i64 {
    let grid = GRID as f64;
    let snapped = (value / grid).round() * grid;
    // Layout coordinates round-trip through JSON numbers; keep far from f64's limits.
    snapped.clamp(-1e12, 1e12) as i64
}

/// An axis-aligned rectangle in canvas units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Rect {
    /// The rectangle spanned by two corners in any order (a rubber band).
    pub fn spanning(a: (f64, f64), b: (f64, f64)) -> Self {
        Self {
            x: a.0.min(b.0),
            y: a.1.min(b.1),
            width: (a.0 - b.0).abs(),
            height: (a.1 - b.1).abs(),
        }
    }

    /// The rectangle a node occupies.
    pub fn node(position: (i64, i64)) -> Self {
        Self {
            x: position.0 as f64,
            y: position.1 as f64,
            width: NODE_WIDTH as f64,
            height: NODE_HEIGHT as f64,
        }
    }

    pub fn contains(&self, point: (f64, f64)) -> bool {
        point.0 >= self.x
            && point.0 <= self.x + self.width
            && point.1 >= self.y
            && point.1 <= self.y + self.height
    }

    pub fn intersects(&self, other: &Rect) -> bool {
        self.x < other.x + other.width
            && other.x < self.x + self.width
            && self.y < other.y + other.height
            && other.y < self.y + self.height
    }

    /// The smallest rectangle holding both.
    pub fn union(&self, other: &Rect) -> Rect {
        let x = self.x.min(other.x);
        let y = self.y.min(other.y);
        Rect {
            x,
            y,
            width: (self.x + self.width).max(other.x + other.width) - x,
            height: (self.y + self.height).max(other.y + other.height) - y,
        }
    }

    /// The smallest rectangle holding every node, `None` without nodes.
    pub fn around_nodes(positions: impl IntoIterator<Item = (i64, i64)>) -> Option<Rect> {
        positions
            .into_iter()
            .map(Rect::node)
            .reduce(|a, b| a.union(&b))
    }
}

/// Pan and zoom: `screen = canvas * zoom + (x, y)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Viewport {
    pub x: f64,
    pub y: f64,
    pub zoom: f64,
}

impl Default for Viewport {
    fn default() -> Self {
        Self {
            x: 40.0,
            y: 40.0,
            zoom: 1.0,
        }
    }
}

impl Viewport {
    pub fn to_canvas(self, screen: (f64, f64)) -> (f64, f64) {
        (
            (screen.0 - self.x) / self.zoom,
            (screen.1 - self.y) / self.zoom,
        )
    }

    /// Zooms by `factor` keeping the canvas point under `screen` where it is, as
    /// pointing devices expect of a wheel zoom.
    pub fn zoom_at(&self, factor: f64, screen: (f64, f64)) -> Viewport {
        let zoom = (self.zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
        if !zoom.is_finite() {
            return *self;
        }
        let anchor = self.to_canvas(screen);
        Viewport {
            x: screen.0 - anchor.0 * zoom,
            y: screen.1 - anchor.1 * zoom,
            zoom,
        }
    }

    pub fn panned(&self, dx: f64, dy: f64) -> Viewport {
        Viewport {
            x: self.x + dx,
            y: self.y + dy,
            zoom: self.zoom,
        }
    }

    /// Shows all of `content` inside a `size` screen area with a margin, never zooming
    /// in past 1 so a small flow keeps its natural size.
    pub fn fit(content: Rect, size: (f64, f64)) -> Viewport {
        const MARGIN: f64 = 40.0;
        let available = (
            (size.0 - 2.0 * MARGIN).max(1.0),
            (size.1 - 2.0 * MARGIN).max(1.0),
        );
        let zoom = (available.0 / content.width.max(1.0))
            .min(available.1 / content.height.max(1.0))
            .clamp(MIN_ZOOM, 1.0);
        Viewport {
            x: (size.0 - content.width * zoom) / 2.0 - content.x * zoom,
            y: (size.1 - content.height * zoom) / 2.0 - content.y * zoom,
            zoom,
        }
    }

    /// Centres the view on a canvas point.
    pub fn centred_on(&self, point: (f64, f64), size: (f64, f64)) -> Viewport {
        Viewport {
            x: size.0 / 2.0 - point.0 * self.zoom,
            y: size.1 / 2.0 - point.1 * self.zoom,
            zoom: self.zoom,
        }
    }

    /// The canvas area visible in a `size` screen area.
    pub fn visible(&self, size: (f64, f64)) -> Rect {
        let (x, y) = self.to_canvas((0.0, 0.0));
        Rect {
            x,
            y,
            width: size.0 / self.zoom,
            height: size.1 / self.zoom,
        }
    }

    /// The CSS transform of the layer that holds nodes and edges.
    pub fn css_transform(&self) -> String {
        format!(
            "translate({:.1}px, {:.1}px) scale({:.4})",
            self.x, self.y, self.zoom
        )
    }
}

/// Where an edge leaves a node (its output handle, right middle).
pub fn output_handle(position: (i64, i64)) -> (f64, f64) {
    (
        (position.0 + NODE_WIDTH) as f64,
        (position.1 + NODE_HEIGHT / 2) as f64,
    )
}

/// Where an edge enters a node (its input handle, left middle).
pub fn input_handle(position: (i64, i64)) -> (f64, f64) {
    (position.0 as f64, (position.1 + NODE_HEIGHT / 2) as f64)
}

/// An SVG path from an output handle to an input handle: a horizontal S-curve. Forward
/// edges bend by half their length (never so little that a short edge kinks); edges
/// that run backwards loop out wider the further back they go, so they still leave and
/// enter their nodes sideways.
pub fn edge_path(from: (f64, f64), to: (f64, f64)) -> String {
    let dx = to.0 - from.0;
    let bend = if dx > 0.0 {
        (dx / 2.0).max(dx.min(40.0))
    } else {
        60.0 - dx / 4.0
    };
    format!(
        "M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
        from.0,
        from.1,
        from.0 + bend,
        from.1,
        to.0 - bend,
        to.1,
        to.0,
        to.1
    )
}

/// The minimap's picture of the canvas.
#[derive(Clone, Debug, PartialEq)]
pub struct Minimap {
    /// The SVG `viewBox` covering nodes and the visible area.
    pub view_box: Rect,
    /// One path drawing every node: a single DOM attribute instead of one element per
    /// node keeps large flows cheap to redraw while dragging.
    pub nodes: String,
}

impl Minimap {
    pub fn new(positions: impl IntoIterator<Item = (i64, i64)>, visible: Rect) -> Minimap {
        let mut nodes = String::new();
        let mut bounds = visible;
        for position in positions {
            let rect = Rect::node(position);
            bounds = bounds.union(&rect);
            nodes.push_str(&format!(
                "M{} {}h{}v{}h-{}z",
                position.0, position.1, NODE_WIDTH, NODE_HEIGHT, NODE_WIDTH
            ));
        }
        let pad = 40.0;
        Minimap {
            view_box: Rect {
                x: bounds.x - pad,
                y: bounds.y - pad,
                width: bounds.width + 2.0 * pad,
                height: bounds.height + 2.0 * pad,
            },
            nodes,
        }
    }

    pub fn view_box_attribute(&self) -> String {
        let b = self.view_box;
        format!("{:.0} {:.0} {:.0} {:.0}", b.x, b.y, b.width, b.height)
    }

    /// The canvas point under a point of the minimap drawn `size` pixels large, with
    /// `preserveAspectRatio="xMidYMid meet"`.
    pub fn to_canvas(&self, point: (f64, f64), size: (f64, f64)) -> (f64, f64) {
        let b = self.view_box;
        let scale = (size.0 / b.width).min(size.1 / b.height);
        let offset = (
            (size.0 - b.width * scale) / 2.0,
            (size.1 - b.height * scale) / 2.0,
        );
        (
            b.x + (point.0 - offset.0) / scale,
            b.y + (point.1 - offset.1) / scale,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapping_is_symmetric_and_bounded() {
        assert_eq!(snap(9.9), 0);
        assert_eq!(snap(10.0), 20);
        assert_eq!(snap(-10.0), -20);
        assert_eq!(snap(-29.0), -20);
        assert_eq!(snap(f64::MAX), 1_000_000_000_000);
        assert_eq!(snap(f64::NAN), 0);
    }

    #[test]
    fn zooming_keeps_the_point_under_the_pointer() {
        let view = Viewport {
            x: 10.0,
            y: -30.0,
            zoom: 1.0,
        };
        let before = view.to_canvas((200.0, 100.0));
        let zoomed = view.zoom_at(1.5, (200.0, 100.0));
        assert_eq!(zoomed.zoom, 1.5);
        let after = zoomed.to_canvas((200.0, 100.0));
        assert!((before.0 - after.0).abs() < 1e-9 && (before.1 - after.1).abs() < 1e-9);
        assert_eq!(view.zoom_at(100.0, (0.0, 0.0)).zoom, MAX_ZOOM);
        assert_eq!(view.zoom_at(0.0, (0.0, 0.0)).zoom, MIN_ZOOM);
    }

    #[test]
    fn fit_shows_everything_without_magnifying() {
        let content = Rect::around_nodes([(0, 0), (1000, 400)]).unwrap();
        let view = Viewport::fit(content, (640.0, 480.0));
        assert!(view.zoom < 1.0);
        let visible = view.visible((640.0, 480.0));
        assert!(visible.x <= 0.0 && visible.y <= 0.0);
        assert!(visible.x + visible.width >= 1200.0 && visible.y + visible.height >= 480.0);

        let small = Viewport::fit(Rect::node((0, 0)), (1000.0, 800.0));
        assert_eq!(small.zoom, 1.0);
        assert_eq!((small.x, small.y), (400.0, 360.0));
    }

    #[test]
    fn rectangles_span_contain_and_intersect() {
        let band = Rect::spanning((50.0, 80.0), (-10.0, 0.0));
        assert_eq!(
            (band.x, band.y, band.width, band.height),
            (-10.0, 0.0, 60.0, 80.0)
        );
        let node = Rect::node((40, 40));
        assert!(band.intersects(&node));
        assert!(!band.intersects(&Rect::node((60, 0))));
        assert!(node.contains((240.0, 120.0)) && !node.contains((241.0, 120.0)));
        assert_eq!(Rect::around_nodes([]), None);
    }

    #[test]
    fn edges_leave_right_and_enter_left() {
        assert_eq!(output_handle((0, 0)), (200.0, 40.0));
        assert_eq!(input_handle((280, 120)), (280.0, 160.0));
        assert_eq!(
            edge_path((200.0, 40.0), (280.0, 160.0)),
            "M200.0,40.0 C240.0,40.0 240.0,160.0 280.0,160.0"
        );
        assert_eq!(
            edge_path((200.0, 0.0), (230.0, 0.0)),
            "M200.0,0.0 C230.0,0.0 200.0,0.0 230.0,0.0"
        );
        // Backwards: out to the right of the start, in from the left of the end.
        assert_eq!(
            edge_path((200.0, 0.0), (0.0, 100.0)),
            "M200.0,0.0 C310.0,0.0 -110.0,100.0 0.0,100.0"
        );
    }

    #[test]
    fn the_minimap_maps_back_to_the_canvas() {
        let map = Minimap::new(
            [(0, 0), (280, 0)],
            Rect::spanning((0.0, 0.0), (100.0, 100.0)),
        );
        assert_eq!(map.nodes, "M0 0h200v80h-200zM280 0h200v80h-200z");
        assert_eq!(map.view_box_attribute(), "-40 -40 560 180");
        // The view box is 560x180 drawn into 280x90: half size, no letterbox.
        assert_eq!(map.to_canvas((140.0, 45.0), (280.0, 90.0)), (240.0, 50.0));
    }
}
