from django import template

register = template.Library()


@register.filter
def clock(seconds) -> str:
    """12:05 or 1:02:05 for a number of seconds."""
    minutes, secs = divmod(int(seconds or 0), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


@register.filter
def percent(fraction) -> str:
    return f"{100 * float(fraction):.0f} %"


@register.filter
def midpoint(exercise_set) -> float:
    """Where a split falls unless the athlete says otherwise (seconds)."""
    return (exercise_set.start_s + exercise_set.end_s) / 2

