"""Pictures of what a recognizer does: attention maps over a video's frames, the frames
where glosses are emitted, the CTC output over time, and training curves."""
from mmsign.visualization.attention import (
    FRAMES_PER_STEP,
    GlossEmission,
    VideoAttention,
    ctc_emissions,
    model_input_box,
    video_attention,
)
from mmsign.visualization.ctc_plot import ctc_figure, plot_ctc, plot_recognition
from mmsign.visualization.curves import (
    TrainingCurves,
    latest_scalars_file,
    plot_curves,
    read_scalars,
)
from mmsign.visualization.drawing import (
    PanelRenderer,
    attention_overlays,
    colorize,
    contact_sheet,
    overlay_heatmap,
    save_gif,
    save_mp4,
    save_png,
)
from mmsign.visualization.recording import (
    AttentionRecord,
    aggregation_weights,
    record_attention,
    temporal_window_sources,
    window_gates,
)

__all__ = [
    'AttentionRecord', 'FRAMES_PER_STEP', 'GlossEmission', 'PanelRenderer',
    'TrainingCurves', 'VideoAttention',
    'attention_overlays', 'colorize', 'contact_sheet', 'ctc_emissions', 'ctc_figure',
    'latest_scalars_file', 'model_input_box', 'overlay_heatmap', 'plot_ctc', 'plot_curves',
    'plot_recognition',
    'read_scalars', 'save_gif', 'save_mp4', 'save_png', 'video_attention',
    'aggregation_weights', 'record_attention', 'temporal_window_sources', 'window_gates'
]
