"""Word lists for profiles: stopwords (English plus chat filler) and known tools.

Kept apart from the algorithms so they can grow without touching them.
"""

from __future__ import annotations

STOPWORDS = frozenset(
    """
    a about above after again against all almost along already also although always am among an and another
    any anybody anyone anything anyway anywhere are aren't around as ask asked asking at away back be became
    because become been before being below best better between both but by came can can't cannot could
    couldn't did didn't do does doesn't doing done don't down during each either else enough especially even
    ever every everyone everything example exactly except far few find first for found from full further get
    gets getting give given gives go goes going gone good got great had hadn't has hasn't have haven't having
    he her here hers herself him himself his how however i i'd i'll i'm i've if in indeed instead into is
    isn't it it's its itself just keep kind know known last least less let let's like likely little look
    looking lot lots made make makes making many may maybe me might mine more most mostly much must my myself
    need needs never new next no nobody none nor not nothing now of off often oh ok okay old on once one ones
    only onto or other others otherwise our ours ourselves out over own part per perhaps please possible
    probably put quite rather re really right said same say says see seem seems seen several shall she should
    shouldn't show since so some somebody someone something sometimes somewhat soon still such sure take
    taken tell than thank thanks that that's the their theirs them themselves then there there's these they
    they're thing things think this those though thought through thus to today together too took toward
    towards try trying two under unless until up upon us use used useful uses using usually various very via
    want wants was wasn't way ways we we'd we'll we're we've well went were weren't what what's whatever when
    where whether which while who whole whom whose why will with within without won't would wouldn't yeah yes
    yet you you'd you'll you're you've your yours yourself yourselves
    able actually add added answer answers anything approach based case cases certain change changes check
    clear code consider create created current day days different does done easy end etc feel following help
    helpful hello hey hi idea ideas important include includes including information issue issues keep large
    later line lines long mean means mention method name note number options order person point points
    possible problem problems question questions reason result results run running set simple small specific
    start step steps sure system text thanks time times tip tips top type understand version want whether work
    working works year years yes write writing here's let's sounds great glad awesome nice cool hope
    """.split()
)

# Known tools, languages, platforms and services: lower-case spelling -> display name.
TOOLS: dict[str, str] = {
    "python": "Python",
    "javascript": "JavaScript",
    "typescript": "TypeScript",
    "rust": "Rust",
    "golang": "Go",
    "java": "Java",
    "kotlin": "Kotlin",
    "swift": "Swift",
    "c++": "C++",
    "c#": "C#",
    "ruby": "Ruby",
    "php": "PHP",
    "scala": "Scala",
    "haskell": "Haskell",
    "elixir": "Elixir",
    "sql": "SQL",
    "bash": "Bash",
    "react": "React",
    "vue": "Vue",
    "angular": "Angular",
    "svelte": "Svelte",
    "next.js": "Next.js",
    "node.js": "Node.js",
    "nodejs": "Node.js",
    "django": "Django",
    "flask": "Flask",
    "fastapi": "FastAPI",
    "rails": "Rails",
    "spring": "Spring",
    "pandas": "pandas",
    "numpy": "NumPy",
    "pytorch": "PyTorch",
    "tensorflow": "TensorFlow",
    "scikit-learn": "scikit-learn",
    "sklearn": "scikit-learn",
    "jupyter": "Jupyter",
    "docker": "Docker",
    "kubernetes": "Kubernetes",
    "k8s": "Kubernetes",
    "terraform": "Terraform",
    "ansible": "Ansible",
    "git": "Git",
    "github": "GitHub",
    "gitlab": "GitLab",
    "linux": "Linux",
    "ubuntu": "Ubuntu",
    "macos": "macOS",
    "windows": "Windows",
    "aws": "AWS",
    "azure": "Azure",
    "gcp": "GCP",
    "postgresql": "PostgreSQL",
    "postgres": "PostgreSQL",
    "mysql": "MySQL",
    "sqlite": "SQLite",
    "mongodb": "MongoDB",
    "redis": "Redis",
    "elasticsearch": "Elasticsearch",
    "kafka": "Kafka",
    "graphql": "GraphQL",
    "vs code": "VS Code",
    "vscode": "VS Code",
    "vim": "Vim",
    "neovim": "Neovim",
    "emacs": "Emacs",
    "excel": "Excel",
    "notion": "Notion",
    "obsidian": "Obsidian",
    "figma": "Figma",
    "slack": "Slack",
    "jira": "Jira",
    "chatgpt": "ChatGPT",
    "claude": "Claude",
    "gemini": "Gemini",
    "openai": "OpenAI",
    "llama": "Llama",
    "wordpress": "WordPress",
    "shopify": "Shopify",
    "stripe": "Stripe",
    "tailwind": "Tailwind",
    "webpack": "Webpack",
    "vite": "Vite",
    "nginx": "nginx",
    "photoshop": "Photoshop",
    "blender": "Blender",
    "unity": "Unity",
    "arduino": "Arduino",
    "raspberry pi": "Raspberry Pi",
}

# Capitalised words that are not names even in the middle of a sentence.
NOT_NAMES = frozenset(
    """
    I I'm I've I'd I'll OK Ok Okay Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February
    March April May June July August September October November December English French German Spanish
    Italian Portuguese Chinese Japanese Mr Mrs Ms Dr The A An This That These Those It My Your Our Their
    His Her We You They He She Yes No Thanks Thank Please Hi Hello Hey AI API URL JSON HTML CSS PDF UI UX
    """.split()
)

# Tool names that are also everyday words: matched only when written with a capital.
AMBIGUOUS_TOOLS = frozenset(
    {"rust", "swift", "spring", "unity", "excel", "notion", "slack", "react", "flask", "windows", "ruby", "java",
     "stripe", "llama", "vue", "angular", "rails", "obsidian", "blender", "vite", "claude", "gemini", "scala",
     "elixir", "kafka", "jupyter", "figma", "bash"}
)
